//! Memos of a batch's distinct cells: weeks, persons and codes looked up
//! once per distinct value (by the cell's short key where it has one), and
//! hours parsed without a float parse for the common plain forms.

use rustc_hash::FxHashMap;

use super::Totals;
use crate::error::Result;
use crate::inputs::Category;
use crate::inputs::cell::{Cell, number};
use crate::inputs::source::Batch;
use crate::panel::{PanelBuilder, centihours};
use crate::weeks::Week;

/// A direct-mapped cache from [`Cell::short_key`]s to values: one slot
/// per key hash, a later key taking the slot. A few instructions per
/// lookup for the few distinct weeks and codes of a register.
pub(super) struct ShortCache<V> {
    slots: Box<[(u128, Option<V>)]>,
}

impl<V: Copy> Default for ShortCache<V> {
    fn default() -> Self {
        ShortCache {
            slots: vec![(0, None); 1 << SHORT_CACHE_BITS].into_boxed_slice(),
        }
    }
}

/// Slots of a [`ShortCache`]: 2^9.
const SHORT_CACHE_BITS: u32 = 9;

impl<V: Copy> ShortCache<V> {
    fn slot(key: u128) -> usize {
        let mixed = ((key as u64) ^ (key >> 64) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (mixed >> (64 - SHORT_CACHE_BITS)) as usize
    }

    /// The value of `key` (0: no key).
    fn get(&self, key: u128) -> Option<V> {
        if key == 0 {
            return None;
        }
        match self.slots[Self::slot(key)] {
            (k, v) if k == key => v,
            _ => None,
        }
    }

    fn put(&mut self, key: u128, value: V) {
        if key != 0 {
            self.slots[Self::slot(key)] = (key, Some(value));
        }
    }
}

/// Week cells → weeks, each distinct spelling parsed once per batch.
#[derive(Default)]
pub(super) struct WeekMemo {
    short: ShortCache<Week>,
    text: FxHashMap<String, Week>,
    int: FxHashMap<i64, Week>,
}

impl WeekMemo {
    /// The distinct weeks seen.
    pub(super) fn weeks(&self) -> Vec<Week> {
        let mut w: Vec<Week> = self
            .text
            .values()
            .chain(self.int.values())
            .copied()
            .collect();
        w.sort_unstable();
        w.dedup();
        w
    }

    /// The week of the cell with [`Cell::short_key`] `key` (0 for none),
    /// or `Err(None)` for a blank cell, `Err(Some(reason))` for one that is
    /// not a week. `cell` is called only when the key is not known.
    #[inline]
    pub(super) fn week<'c>(
        &mut self,
        key: u128,
        cell: impl FnOnce() -> Cell<'c>,
    ) -> std::result::Result<Week, Option<String>> {
        match self.short.get(key) {
            Some(w) => Ok(w),
            None => self.week_of(key, &cell()),
        }
    }

    /// [`WeekMemo::week`] of a cell whose key is not cached.
    fn week_of(&mut self, key: u128, cell: &Cell<'_>) -> std::result::Result<Week, Option<String>> {
        if cell.is_blank() {
            return Err(None);
        }
        let w = self.week_slow(cell)?;
        self.short.put(key, w);
        Ok(w)
    }

    fn week_slow(&mut self, cell: &Cell<'_>) -> std::result::Result<Week, Option<String>> {
        let parse = |text: &str| Week::parse(text).map_err(|e| Some(e.reason));
        match cell {
            Cell::Int(v) => match self.int.get(v) {
                Some(&w) => Ok(w),
                None => {
                    let w = parse(&v.to_string())?;
                    self.int.insert(*v, w);
                    Ok(w)
                }
            },
            other => {
                let text = other.text();
                match self.text.get(text.as_ref()) {
                    Some(&w) => Ok(w),
                    None => {
                        let w = parse(&text)?;
                        self.text.insert(text.into_owned(), w);
                        Ok(w)
                    }
                }
            }
        }
    }
}

/// Register ids → person table rows, remembering the last id (registers
/// are usually sorted by person).
#[derive(Default)]
pub(super) struct PersonMemo {
    /// The last id's [`Cell::short_key`] (0: none, then its text) and its
    /// row.
    last: Option<(u128, String, Option<usize>)>,
}

impl PersonMemo {
    /// The person table row of the id with [`Cell::short_key`] `key` (0
    /// for none); `None` for an unknown id (counted in `totals`); an error
    /// for a blank id. `id` gives the cell, read only when the key is not
    /// the last one's or the person is unknown.
    #[inline]
    pub(super) fn find<'c>(
        &mut self,
        builder: &PanelBuilder<'_>,
        key: u128,
        id: impl Fn() -> Cell<'c>,
        totals: &mut Totals,
        batch: &Batch<'_>,
        i: usize,
    ) -> Result<Option<usize>> {
        // Most rows: the same known person as the row before.
        if let Some((last, _, Some(found))) = &self.last
            && key != 0
            && *last == key
        {
            return Ok(Some(*found));
        }
        self.find_cell(builder, key, &id(), totals, batch, i)
    }

    /// [`PersonMemo::find`] past the last known person.
    fn find_cell(
        &mut self,
        builder: &PanelBuilder<'_>,
        key: u128,
        id: &Cell<'_>,
        totals: &mut Totals,
        batch: &Batch<'_>,
        i: usize,
    ) -> Result<Option<usize>> {
        let same = match &self.last {
            Some((last, _, found)) if key != 0 && *last == key => Some(*found),
            Some((0, last, found)) if key == 0 && matches!(id, Cell::Str(s) if s == last) => {
                Some(*found)
            }
            _ => None,
        };
        let found = match same {
            Some(found) => found,
            None => {
                if id.is_blank() {
                    return Err(batch.missing(i, 0));
                }
                let found = builder.persons.position_of(id);
                let text = if key != 0 {
                    String::new()
                } else {
                    id.text().into_owned()
                };
                self.last = Some((key, text, found));
                found
            }
        };
        if found.is_none() {
            let text = id.text().trim().to_string();
            totals
                .first_unknown
                .get_or_insert_with(|| (i + 1, text.clone()));
            totals.unknown_rows += 1;
            totals.unknown_ids.insert(text);
        }
        Ok(found)
    }
}

/// Register codes → categories, each distinct code looked up once per
/// batch; unmapped codes counted in [`Totals`].
#[derive(Default)]
pub(super) struct CodeMemo {
    short: ShortCache<Category>,
    seen: FxHashMap<String, Option<Category>>,
}

impl CodeMemo {
    /// The category of the code with [`Cell::short_key`] `key` (0 for
    /// none); `code` gives the cell, read only when the key is not known.
    #[inline]
    pub(super) fn find<'c>(
        &mut self,
        builder: &PanelBuilder<'_>,
        key: u128,
        code: impl FnOnce() -> Cell<'c>,
        totals: &mut Totals,
    ) -> Category {
        match self.short.get(key) {
            Some(c) => c,
            None => self.find_cell(builder, key, &code(), totals),
        }
    }

    /// [`CodeMemo::find`] of a code whose key is not cached.
    fn find_cell(
        &mut self,
        builder: &PanelBuilder<'_>,
        key: u128,
        code: &Cell<'_>,
        totals: &mut Totals,
    ) -> Category {
        if code.is_blank() {
            return Category::NONE;
        }
        let text = code.text();
        let found = match self.seen.get(text.as_ref()) {
            Some(&c) => c,
            None => {
                let c = builder.codes.lookup(&text);
                self.seen.insert(text.to_string(), c);
                c
            }
        };
        match found {
            // Only mapped codes are cached: each unmapped one is counted.
            Some(c) => self.short.put(key, c),
            None => *totals.unmapped.entry(text.trim().to_string()).or_insert(0) += 1,
        }
        found.unwrap_or(Category::NONE)
    }
}

/// Hours of a cell, in hundredths.
pub(super) fn parse_hours(batch: &Batch<'_>, i: usize, j: usize, cell: &Cell<'_>) -> Result<u16> {
    if let Cell::Str(s) = cell
        && let Some(h) = plain_centihours(s)
    {
        return Ok(h);
    }
    let hours = number(cell).map_err(|problem| batch.invalid(i, j, cell, problem))?;
    centihours(hours.unwrap_or(0.0)).map_err(|problem| batch.invalid(i, j, cell, problem))
}

/// Hundredths of an hour of `h`, `h.d` or `h.dd` (1–3 digits before the
/// point) up to 168 hours, without a float parse; `None` for anything
/// else. The same as `centihours` of the parsed float: for n ≤ 16,800,
/// rounding f64(n / 100) · 100 gives n back.
pub(super) fn plain_centihours(s: &str) -> Option<u16> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 3 || frac.len() > 2 || !digits(whole) || !digits(frac) {
        return None;
    }
    let value = |t: &str| t.bytes().fold(0u32, |a, d| a * 10 + u32::from(d - b'0'));
    let h = value(whole) * 100 + value(frac) * if frac.len() == 1 { 10 } else { 1 };
    let max = (crate::panel::MAX_HOURS * crate::panel::HOURS_SCALE) as u32;
    u16::try_from(h).ok().filter(|_| h <= max)
}

#[cfg(test)]
mod tests {
    use super::{ShortCache, plain_centihours};
    use crate::inputs::cell::Cell;
    use crate::panel::centihours;

    /// Keys are equal exactly for equal cells: texts of 1 to 12 bytes by
    /// length and bytes, integers apart from texts; others have none.
    #[test]
    fn short_keys_tell_cells_apart() {
        let texts = [
            "1",
            "01",
            "1 ",
            "a",
            "A",
            "2016-W10",
            "2016-W1",
            "201610",
            "12345678901",
            "123456789012",
            "æøå",
            "\u{0}",
        ];
        let keys: Vec<u128> = texts
            .iter()
            .map(|t| Cell::Str(t).short_key().unwrap())
            .collect();
        for (i, a) in keys.iter().enumerate() {
            for (j, b) in keys.iter().enumerate() {
                assert_eq!(a == b, i == j, "{:?} {:?}", texts[i], texts[j]);
            }
        }
        let one = Cell::Int(1).short_key().unwrap();
        assert!(!keys.contains(&one));
        assert_ne!(one, Cell::Int(-1).short_key().unwrap());
        for none in [
            Cell::Str(""),
            Cell::Str("1234567890123"),
            Cell::Null,
            Cell::Float(1.0),
        ] {
            assert_eq!(none.short_key(), None, "{none:?}");
        }
    }

    /// A cache slot holds the last key written to it: a lookup gives that
    /// key's value or nothing, never another key's value.
    #[test]
    fn the_short_cache_never_answers_for_another_key() {
        let mut cache = ShortCache::<u32>::default();
        let keys: Vec<u128> = (0..5_000u32)
            .map(|i| Cell::Str(&i.to_string()).short_key().unwrap())
            .collect();
        for (i, &k) in keys.iter().enumerate() {
            cache.put(k, i as u32);
        }
        let mut hits = 0;
        for (i, &k) in keys.iter().enumerate() {
            if let Some(v) = cache.get(k) {
                assert_eq!(v, i as u32);
                hits += 1;
            }
        }
        // 5,000 keys in 512 slots: most were evicted, some remain.
        assert!(hits > 0 && hits <= 512, "{hits}");
        assert_eq!(cache.get(0), None);
    }

    /// The fast path equals parsing the float for every value it takes.
    #[test]
    fn plain_hours_equal_the_float_parse() {
        for n in 0..=16_800u32 {
            let (whole, frac) = (n / 100, n % 100);
            for text in [format!("{whole}.{frac:02}"), format!("{whole}")] {
                let want = centihours(text.parse::<f64>().unwrap()).ok();
                assert_eq!(plain_centihours(&text), want, "{text}");
            }
            if frac % 10 == 0 {
                let text = format!("{whole}.{}", frac / 10);
                assert_eq!(
                    plain_centihours(&text),
                    centihours(text.parse().unwrap()).ok(),
                    "{text}"
                );
            }
        }
        for text in [
            "", ".5", "1.", "1.234", "-1", "1e2", "169", "168.01", " 5", "0x1",
        ] {
            if let Some(h) = plain_centihours(text) {
                assert_eq!(
                    Some(h),
                    text.parse::<f64>().ok().and_then(|x| centihours(x).ok()),
                    "{text}"
                );
            }
        }
    }
}
