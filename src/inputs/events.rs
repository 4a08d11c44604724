//! The event log: dated case-management events per person (talks, CV
//! registered, activity plan, placement, ...), the input of the event-log
//! process indicators ([`Indicator`](crate::estimators::Indicator), methods §11).

use std::path::{Path, PathBuf};

use polars::prelude::DataFrame;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::inputs::Persons;
use crate::inputs::reading::Mode;
use crate::inputs::reading::Pace;
use crate::inputs::source::{Batch, Source};
use crate::weeks::{Week, WeekSource, stray_setting};

/// How to read an event log (`[events]` in the analysis file): its columns
/// and, when its own first and last events would mislead, the weeks it
/// covers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventSpec {
    /// Person id, as in the person table. Default `person_id`.
    pub id: String,
    /// Date or ISO week of the event. Default `date`.
    pub date: String,
    /// Event type. Default `event`.
    pub event: String,
    /// First week the log covers. Default: the week of its first event
    /// (refused when a few stray events lie far before the others). Events
    /// before it are left out, counted and said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Week>,
    /// Last week the log covers (its extract). Default: the week of its
    /// last event (refused when a few stray events lie far after the
    /// others). Events after it are left out, counted and said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<Week>,
}

impl Default for EventSpec {
    fn default() -> Self {
        EventSpec {
            id: "person_id".into(),
            date: "date".into(),
            event: "event".into(),
            from: None,
            until: None,
        }
    }
}

/// The event log: dated case-management events per person (talks, CV
/// registered, activity plan, placement, ...), the input of the event-log
/// process indicators ([`Indicator`](crate::estimators::Indicator), methods §11).
///
/// A CSV or Parquet file (or a polars frame) with a person id, a date or ISO
/// week (any spelling of [`Week::parse`]) and an event type, one row per
/// event. It is read in batches like the register, so memory holds the
/// events, not the file. Every row must name a person of the person table
/// and a valid date; the event types are free text, compared after trimming.
/// Time is counted in ISO weeks: an event's event week is its week minus the
/// person's referral week, so a date's day within its week is not used.
///
/// ```
/// use polars::prelude::*;
/// use trialpanel::inputs::{EventSpec, EventLog};
/// use trialpanel::{PersonSpec, Persons};
///
/// let persons = df!("person_id" => ["a", "b"], "arm" => ["treatment", "control"],
///                   "referral_week" => ["2016-W10", "2016-W12"])?;
/// let persons = Persons::from_frame(persons, "persons", &PersonSpec::default())?;
/// let log = df!("person_id" => ["a", "a", "b"],
///               "date" => ["2016-03-08", "2016-W12", "2016-03-21"],
///               "event" => ["talk", "cv", "talk"])?;
/// let log = EventLog::from_frame(log, "events", &persons, &EventSpec::default())?;
/// assert_eq!(log.types(), ["cv", "talk"]);
/// assert_eq!(log.rows(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The events of every person, by week.
#[derive(Clone, Debug)]
pub struct EventLog {
    file: PathBuf,
    types: Vec<String>,
    /// Person id → the range of its events in `weeks` and `kinds`.
    persons: FxHashMap<String, (usize, usize)>,
    /// Week index ([`Week::index`]) of each event, by person then week.
    weeks: Vec<i32>,
    /// Index into `types` of each event.
    kinds: Vec<u32>,
    /// The weeks the log covers.
    first: Week,
    last: Week,
    rows: usize,
    /// Events outside the weeks set as covered, left out.
    outside: usize,
    before_referral: usize,
}

/// One batch's events: (person index, week index, local type index), and
/// the batch's types.
struct BatchEvents {
    events: Vec<(u32, i32, u32)>,
    types: Vec<String>,
}

impl EventLog {
    /// Read an event log file (`.csv` or `.parquet`) of the persons of
    /// `persons`.
    pub fn read(
        path: impl AsRef<Path>,
        persons: &Persons,
        columns: &EventSpec,
    ) -> Result<EventLog> {
        Self::from_source(&Source::open(path.as_ref())?, persons, columns)
    }

    /// An event log held in a polars `DataFrame`; `label` names it in
    /// errors.
    pub fn from_frame(
        df: DataFrame,
        label: &str,
        persons: &Persons,
        columns: &EventSpec,
    ) -> Result<EventLog> {
        Self::from_source(&Source::frame(df, label)?, persons, columns)
    }

    fn from_source(source: &Source, persons: &Persons, columns: &EventSpec) -> Result<EventLog> {
        if let (Some(from), Some(until)) = (columns.from, columns.until)
            && from > until
        {
            return Err(Error::InvalidSetting {
                name: "events.from".into(),
                reason: format!("{from} is after events.until = {until}"),
            });
        }
        let projection = [
            source.index(&columns.id)?,
            source.index(&columns.date)?,
            source.index(&columns.event)?,
        ];
        source.check_types(&projection, &[])?;
        let pace = Pace {
            batch_rows: crate::inputs::reading::DEFAULT_BATCH_ROWS,
            progress: None,
        };
        // As for the register: a parallel pass, and on an error an in-order
        // pass whose error is the first bad row of the file.
        let pass = |mode| source.batches(&projection, pace, mode, |b| read_batch(b, persons));
        let batches = match pass(Mode::Parallel) {
            Ok(b) => b,
            Err(_) => pass(Mode::InOrder)?,
        };

        let mut types: Vec<String> = batches.iter().flat_map(|b| b.types.clone()).collect();
        types.sort_unstable();
        types.dedup();
        let mut events: Vec<(u32, i32, u32)> = Vec::new();
        for b in &batches {
            let global: Vec<u32> = b
                .types
                .iter()
                .map(|t| types.binary_search(t).unwrap_or_default() as u32)
                .collect();
            events.extend(b.events.iter().map(|&(p, w, t)| (p, w, global[t as usize])));
        }
        let read = events.len();
        if u32::try_from(read).is_err() {
            return Err(Error::Limit {
                what: format!("{} has {read} events", source.file().display()),
                limit: format!("at most {} events", u32::MAX),
            });
        }
        let (first, last) = coverage(source.file(), &events, columns)?;
        events.retain(|e| (first.index()..=last.index()).contains(&e.1));
        let rows = events.len();
        if rows == 0 {
            return Err(Error::InvalidSetting {
                name: "events.from".into(),
                reason: format!(
                    "no event of {} lies in the weeks set as covered, {first} to {last}",
                    source.file().display()
                ),
            });
        }
        events.par_sort_unstable();
        let mut by_person = FxHashMap::with_capacity_and_hasher(persons.len(), Default::default());
        let mut start = 0;
        while start < events.len() {
            let person = events[start].0;
            let end = start + events[start..].partition_point(|e| e.0 == person);
            by_person.insert(persons.ids()[person as usize].clone(), (start, end));
            start = end;
        }
        Ok(EventLog {
            file: source.file().to_path_buf(),
            types,
            persons: by_person,
            weeks: events.iter().map(|e| e.1).collect(),
            kinds: events.iter().map(|e| e.2).collect(),
            first,
            last,
            rows,
            outside: read - rows,
            before_referral: events
                .iter()
                .filter(|e| e.1 < persons.referral_weeks()[e.0 as usize].index())
                .count(),
        })
    }

    /// The file (or frame label) read.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The distinct event types, sorted.
    pub fn types(&self) -> &[String] {
        &self.types
    }

    /// Number of events (rows) read.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Events dated before their person's referral week: they count for
    /// no indicator.
    pub fn before_referral(&self) -> usize {
        self.before_referral
    }

    /// The first week the log covers: `[events] from`, or the week of its
    /// first event.
    pub fn first_week(&self) -> Week {
        self.first
    }

    /// The last week the log covers: `[events] until`, or the week of its
    /// last event.
    pub fn last_week(&self) -> Week {
        self.last
    }

    /// Events dated outside `[events] from`..=`until`, left out.
    pub fn outside(&self) -> usize {
        self.outside
    }

    /// The index of event type `name` in [`EventLog::types`], or
    /// [`Error::InvalidSetting`] naming `what` and the types there are.
    pub(crate) fn kind(&self, name: &str, what: &str) -> Result<u32> {
        self.types
            .binary_search_by(|t| t.as_str().cmp(name.trim()))
            .map(|i| i as u32)
            .map_err(|_| Error::InvalidSetting {
                name: what.to_string(),
                reason: format!(
                    "event type `{name}` does not occur in {} (types found: {})",
                    self.file.display(),
                    crate::excerpt::list(&self.types)
                ),
            })
    }

    /// For each person of `persons` in order, the range of their events
    /// (empty for a person without any): look a panel's persons up once
    /// for all its rules.
    pub(crate) fn slots(&self, persons: &Persons) -> Vec<(u32, u32)> {
        persons
            .ids()
            .iter()
            .map(|id| {
                self.persons
                    .get(id.as_str())
                    .map_or((0, 0), |&(a, b)| (a as u32, b as u32))
            })
            .collect()
    }

    /// The events of a slot of [`EventLog::slots`]: week indices
    /// ([`Week::index`]) in order and their type indices.
    pub(crate) fn events_at(&self, (a, b): (u32, u32)) -> (&[i32], &[u32]) {
        let r = a as usize..b as usize;
        (&self.weeks[r.clone()], &self.kinds[r])
    }
}

/// The weeks the log covers: the settings, or its first and last event's
/// weeks, refused when a few stray events stretch them (an event dated 2061
/// would make the log cover every week to then, and every person look
/// followed without events).
fn coverage(file: &Path, events: &[(u32, i32, u32)], spec: &EventSpec) -> Result<(Week, Week)> {
    let mut weeks: Vec<Week> = events.iter().map(|e| Week::from_index(e.1)).collect();
    weeks.sort_unstable();
    weeks.dedup();
    let (Some(&first), Some(&last)) = (weeks.first(), weeks.last()) else {
        return Err(Error::Empty {
            file: file.to_path_buf(),
        });
    };
    let stray = stray_setting(
        &weeks,
        &WeekSource {
            from: ("events.from", spec.from.is_some()),
            until: ("events.until", spec.until.is_some()),
            rows: &format!("the events of {}", file.display()),
            unit: "events",
            harm: "they would stretch the weeks the log covers and count every person as \
                   followed there without events",
        },
    );
    if let Some((name, reason)) = stray {
        return Err(Error::InvalidSetting { name, reason });
    }
    Ok((spec.from.unwrap_or(first), spec.until.unwrap_or(last)))
}

/// The events of one batch, checked.
fn read_batch(batch: &Batch<'_>, persons: &Persons) -> Result<BatchEvents> {
    let mut columns = batch.columns()?;
    let broken = columns.take_broken();
    let (mut ids, mut dates, mut kinds) = (Vec::new(), Vec::new(), Vec::new());
    let n = columns.rows();
    columns.fill(0, 0..n, &mut ids);
    columns.fill(1, 0..n, &mut dates);
    columns.fill(2, 0..n, &mut kinds);
    let mut weeks: FxHashMap<String, i32> = FxHashMap::default();
    let mut types: FxHashMap<String, u32> = FxHashMap::default();
    let mut previous: Option<(String, usize)> = None;
    let mut out = BatchEvents {
        events: Vec::with_capacity(n),
        types: Vec::new(),
    };
    for i in 0..n {
        let (id, date, kind) = (ids[i].text(), dates[i].text(), kinds[i].text());
        let (id, date, kind) = (id.trim(), date.trim(), kind.trim());
        for (j, value) in [id, date, kind].into_iter().enumerate() {
            if value.is_empty() {
                return Err(batch.missing(i, j));
            }
        }
        // Logs are usually grouped by person: the previous row's person
        // is checked first.
        let known = match &previous {
            Some((last, p)) if last == id => Some(*p),
            _ => persons.position(id),
        };
        let Some(person) = known else {
            let hint = persons
                .near_match(id)
                .map_or(String::new(), |m| format!("; the person table has `{m}`"));
            return Err(batch.invalid(
                i,
                0,
                &ids[i],
                format!("person not in the person table{hint}"),
            ));
        };
        // Each distinct spelling of a week or type parsed and stored once.
        let week = match weeks.get(date) {
            Some(&w) => w,
            None => {
                let w = Week::parse(date)
                    .map_err(|e| {
                        batch.invalid(
                            i,
                            1,
                            &dates[i],
                            format!("invalid date or week ({})", e.reason),
                        )
                    })?
                    .index();
                weeks.insert(date.to_string(), w);
                w
            }
        };
        let kind = match types.get(kind) {
            Some(&t) => t,
            None => {
                let t = out.types.len() as u32;
                types.insert(kind.to_string(), t);
                out.types.push(kind.to_string());
                t
            }
        };
        out.events.push((person as u32, week, kind));
        if previous.as_ref().is_none_or(|(last, _)| last != id) {
            previous = Some((id.to_string(), person));
        }
    }
    if let Some((_, e)) = broken {
        return Err(e);
    }
    Ok(out)
}
