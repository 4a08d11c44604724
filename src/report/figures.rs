//! SVG figures of an analysis, drawn with `plotters` (its SVG backend writes
//! text as `<text>` elements, so no system fonts are needed).
//!
//! * `effects_<outcome>.svg`: weekly means by arm (left) beside the effect
//!   with its pointwise confidence band (shaded), when computed the
//!   simultaneous band (dashed grey) and the covariate-adjusted effect
//!   (dashed green), with the persons followed per arm under the week axis;
//! * `spell_km.svg`: Kaplan–Meier cumulative incidence of a completed spell
//!   per arm with pointwise confidence bands and the persons at risk;
//! * `hours_distribution.svg`: the distribution of positive hours at the
//!   hours week, by arm;
//! * `fidelity_lights.svg`: the fidelity overview as a heat table, sites ×
//!   measures, each cell green, yellow or red with its value (`?` when the
//!   interval crosses a threshold);
//! * `correlation_<i>.svg`: the sites of the i-th `[[correlations]]` pair
//!   as a labelled scatter.
//!
//! 1000 px wide (A4 width at 120 dpi), axis titles with units, a legend in
//! every panel. Shares are drawn in percent, hours in hours.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::config::Unit;
use crate::error::{Error, Result};
use crate::estimators::SiteCorrelation;
use crate::inputs::Arm;
use crate::report::Overview;
use crate::report::numbers::{fixed, pct_label};
use crate::results::{HoursResults, OutcomeResults, Results, SpellResults};
use crate::stats::{Level, Light, Thresholds};

/// File name of the Kaplan–Meier figure.
pub const KM_FILE: &str = "spell_km.svg";
/// File name of the hours-distribution figure.
pub const HOURS_FILE: &str = "hours_distribution.svg";

/// File name of the fidelity heat table.
pub const LIGHTS_FILE: &str = "fidelity_lights.svg";

/// File name of the scatter of the `i`-th correlation (from 0).
pub fn correlation_file(i: usize) -> String {
    format!("correlation_{}.svg", i + 1)
}

/// File name of an outcome's effects figure.
pub fn effects_file(outcome: &str) -> String {
    format!("effects_{outcome}.svg")
}

/// Colour of the treatment arm (blue of the Okabe–Ito palette).
const TREATMENT: RGBColor = RGBColor(0, 114, 178);
/// Colour of the control arm (vermillion of the Okabe–Ito palette).
const CONTROL: RGBColor = RGBColor(213, 94, 0);
const WIDTH: u32 = 1000;
const FONT: &str = "sans-serif";

/// Every figure of `results`: (file name, SVG text).
pub fn all(results: &Results) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for o in &results.outcomes {
        out.push((effects_file(&o.effects.outcome), effects(o)?));
    }
    if let Some(sp) = &results.spell {
        out.push((KM_FILE.into(), kaplan_meier(sp)?));
    }
    if let Some(h) = &results.hours {
        out.push((HOURS_FILE.into(), hours_distribution(h)?));
    }
    if let Some(o) = Overview::of(results) {
        out.push((
            LIGHTS_FILE.into(),
            lights(&o, &results.config.bands, results.config.design.level)?,
        ));
    }
    for (i, c) in results.correlations.iter().enumerate() {
        if !c.sites.is_empty() {
            out.push((correlation_file(i), scatter(c)?));
        }
    }
    Ok(out)
}

/// Green, yellow and red of the lights, and grey for no value.
fn light_colour(light: Option<Light>) -> RGBColor {
    match light {
        Some(Light::High) => RGBColor(102, 189, 99),
        Some(Light::Middle) => RGBColor(254, 224, 139),
        Some(Light::Low) => RGBColor(244, 109, 67),
        None => RGBColor(230, 230, 230),
    }
}

/// The fidelity overview as a heat table.
pub fn lights(o: &Overview, bands: &Thresholds, level: Level) -> Result<String> {
    render(LIGHTS_FILE, |svg| draw_lights(o, bands, level, svg))
}

fn draw_lights(o: &Overview, bands: &Thresholds, level: Level, svg: &mut String) -> DrawResult {
    let (label_w, cell_w, cell_h, head_h) = (150i32, 104i32, 30i32, 84i32);
    let width = (label_w + cell_w * o.measures.len() as i32 + 20).max(480) as u32;
    let height = (head_h + cell_h * o.sites.len() as i32 + 56) as u32;
    let root = SVGBackend::with_string(svg, (width, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let left = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let centre = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Center, VPos::Center));
    let head = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    root.draw(&Text::new(
        "Fidelity overview (treatment arm; survey: last wave)".to_string(),
        (10, 16),
        TextStyle::from((FONT, 18).into_font()).pos(Pos::new(HPos::Left, VPos::Center)),
    ))?;
    for (j, m) in o.measures.iter().enumerate() {
        let x = label_w + cell_w * j as i32 + cell_w / 2;
        // Long labels on up to three lines, broken after an underscore or
        // at a space.
        let lines = wrap_label(m, 14);
        for (k, line) in lines.iter().rev().enumerate() {
            root.draw(&Text::new(
                line.to_string(),
                (x, head_h - 4 - 16 * k as i32),
                head.clone(),
            ))?;
        }
    }
    for (i, site) in o.sites.iter().enumerate() {
        let y = head_h + cell_h * i as i32;
        root.draw(&Text::new(site.clone(), (10, y + cell_h / 2), left.clone()))?;
        for (j, cell) in o.cells[i].iter().enumerate() {
            let x = label_w + cell_w * j as i32;
            root.draw(&Rectangle::new(
                [(x + 1, y + 1), (x + cell_w - 1, y + cell_h - 1)],
                light_colour(cell.map(|c| c.light)).filled(),
            ))?;
            let text = cell.map_or("–".to_string(), |c| {
                format!(
                    "{:.0}%{}",
                    100.0 * c.share,
                    if c.uncertain { " ?" } else { "" }
                )
            });
            root.draw(&Text::new(
                text,
                (x + cell_w / 2, y + cell_h / 2),
                centre.clone(),
            ))?;
        }
    }
    let y = head_h + cell_h * o.sites.len() as i32 + 22;
    root.draw(&Text::new(
        format!(
            "green ≥ {:.0}%, yellow {:.0}–{:.0}%, red < {:.0}%; ? = the {} interval crosses a \
             threshold; – = none judged",
            100.0 * bands.high,
            100.0 * bands.low,
            100.0 * bands.high,
            100.0 * bands.low,
            pct_label(level)
        ),
        (10, y),
        TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center)),
    ))?;
    root.present()
}

/// The sites of a correlation as a labelled scatter.
pub fn scatter(c: &SiteCorrelation) -> Result<String> {
    render("correlation", |svg| draw_scatter(c, svg))
}

fn draw_scatter(c: &SiteCorrelation, svg: &mut String) -> DrawResult {
    let pad = |v: std::ops::Range<f64>| {
        let w = (v.end - v.start).max(1e-9);
        v.start - 0.08 * w..v.end + 0.08 * w
    };
    let xs = value_range(c.sites.iter().map(|s| s.1), false);
    let ys = value_range(c.sites.iter().map(|s| s.2), false);
    let root = SVGBackend::with_string(svg, (WIDTH * 7 / 10, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = match &c.correlation {
        Some(r) => format!(
            "{} sites: Pearson r = {}{}, Spearman ρ = {}",
            c.sites.len(),
            fixed(r.pearson, 2),
            match (r.ci_low, r.ci_high) {
                (Some(l), Some(h)) => format!(" [{}, {}]", fixed(l, 2), fixed(h, 2)),
                _ => String::new(),
            },
            r.spearman.map_or("–".into(), |s| fixed(s, 2))
        ),
        None => format!(
            "{} sites: no correlation (too few or constant)",
            c.sites.len()
        ),
    };
    // A caption rather than a titled sub-area: the labels below are drawn
    // on `root` at the chart's backend coordinates.
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 18))
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(70)
        .build_cartesian_2d(pad(xs), pad(ys))?;
    chart
        .configure_mesh()
        .x_desc(c.x.to_string())
        .y_desc(c.y.to_string())
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(WHITE)
        .draw()?;
    chart.draw_series(
        c.sites
            .iter()
            .map(|s| Circle::new((s.1, s.2), 5, TREATMENT.filled())),
    )?;
    let label = TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Left, VPos::Top));
    let points: Vec<(i32, i32)> = c
        .sites
        .iter()
        .map(|s| chart.backend_coord(&(s.1, s.2)))
        .collect();
    let sizes: Vec<(i32, i32)> = c
        .sites
        .iter()
        .map(|s| (LABEL_CHAR_WIDTH * s.0.chars().count() as i32, LABEL_HEIGHT))
        .collect();
    let (w, h) = root.dim_in_pixel();
    let corners = place_labels(&points, &sizes, (w as i32, h as i32));
    for (s, at) in c.sites.iter().zip(corners) {
        root.draw(&Text::new(s.0.clone(), at, label.clone()))?;
    }
    root.present()
}

/// `text` in lines of at most `width` characters where it can be broken:
/// after an underscore or at a space (a longer word stays whole).
fn wrap_label(text: &str, width: usize) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c == ' ' {
            words.push(std::mem::take(&mut word));
            continue;
        }
        word.push(c);
        if c == '_' {
            words.push(std::mem::take(&mut word));
        }
    }
    words.push(word);
    let mut lines: Vec<String> = Vec::new();
    for w in words.into_iter().filter(|w| !w.is_empty()) {
        match lines.last_mut() {
            Some(line)
                if line.chars().count() + usize::from(!line.ends_with('_')) + w.chars().count()
                    <= width =>
            {
                if !line.ends_with('_') {
                    line.push(' ');
                }
                line.push_str(&w);
            }
            _ => lines.push(w),
        }
    }
    lines
}

/// A 12 px label's width per character and its height, in pixels (upper
/// bounds for the sans-serif fonts a browser picks).
const LABEL_CHAR_WIDTH: i32 = 7;
const LABEL_HEIGHT: i32 = 14;

/// The top-left corner of each point's label (`sizes`: width and height in
/// pixels), chosen so that labels overlap neither each other nor the
/// points (drawn 5 px wide) and stay inside `area` (width, height): beside
/// the point to the right or left, above or below, then moved up or down a
/// line at a time; where every place is taken, the one covering the least.
/// Labels are placed in order of the points' height, so the result does
/// not depend on the order of the sites.
fn place_labels(points: &[(i32, i32)], sizes: &[(i32, i32)], area: (i32, i32)) -> Vec<(i32, i32)> {
    type Rect = (i32, i32, i32, i32); // left, top, right, bottom
    let overlap = |a: Rect, b: Rect| {
        let w = (a.2.min(b.2) - a.0.max(b.0)).max(0);
        let h = (a.3.min(b.3) - a.1.max(b.1)).max(0);
        i64::from(w) * i64::from(h)
    };
    let mut taken: Vec<Rect> = points
        .iter()
        .map(|&(x, y)| (x - 6, y - 6, x + 6, y + 6))
        .collect();
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by_key(|&i| (points[i].1, points[i].0));
    let mut corners = vec![(0, 0); points.len()];
    for i in order {
        let ((x, y), (w, h)) = (points[i], sizes[i]);
        let mut candidates = Vec::new();
        for shift in 0..8 {
            for &dy in &[-h - 3 - shift * h, 3 + shift * h] {
                candidates.push((x + 8, y + dy));
                candidates.push((x - 8 - w, y + dy));
            }
        }
        let cost = |&(l, t): &(i32, i32)| {
            let r = (l, t, l + w, t + h);
            let outside = i64::from(
                (-l).max(0) + (r.2 - area.0).max(0) + (-t).max(0) + (r.3 - area.1).max(0),
            );
            taken.iter().map(|&b| overlap(r, b)).sum::<i64>() + 1000 * outside
        };
        let best = candidates
            .iter()
            .find(|c| cost(c) == 0)
            .or_else(|| candidates.iter().min_by_key(|c| cost(c)))
            .copied()
            .unwrap_or((x + 8, y - h - 3));
        taken.push((best.0, best.1, best.0 + w, best.1 + h));
        corners[i] = best;
    }
    corners
}

/// Draw into a new SVG string; a drawing failure is an error naming the
/// figure.
fn render(figure: &str, draw: impl FnOnce(&mut String) -> DrawResult) -> Result<String> {
    let mut svg = String::new();
    draw(&mut svg).map_err(|e| Error::Write {
        file: figure.into(),
        message: format!("cannot draw the figure: {e}"),
    })?;
    Ok(svg)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Chart<'a> = ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;
type DrawResult = std::result::Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// Weekly means by arm beside the effect with its bands.
pub fn effects(o: &OutcomeResults) -> Result<String> {
    render(&effects_file(&o.effects.outcome), |svg| {
        draw_effects(o, svg)
    })
}

fn draw_effects(o: &OutcomeResults, svg: &mut String) -> DrawResult {
    let e = &o.effects;
    let scale = if o.unit == Unit::Share { 100.0 } else { 1.0 };
    let rows = &e.rows;
    let weeks: Vec<f64> = rows.iter().map(|r| f64::from(r.week)).collect();
    let get = |f: &dyn Fn(&crate::estimators::WeekEffect) -> Option<f64>| -> Vec<Option<f64>> {
        rows.iter().map(|r| f(r).map(|x| scale * x)).collect()
    };
    let treat = get(&|r| r.estimate.mean_treat);
    let control = get(&|r| r.estimate.mean_control);
    let effect = get(&|r| r.estimate.effect);
    let (lo, hi) = (get(&|r| r.estimate.ci_low), get(&|r| r.estimate.ci_high));
    let (band_lo, band_hi) = (get(&|r| r.band_low), get(&|r| r.band_high));
    // The Lin estimate, on the same weeks, when there is one.
    let adjusted: Vec<Option<f64>> = match &o.adjusted {
        Some(a) => rows
            .iter()
            .map(|r| {
                a.week(r.week)
                    .and_then(|w| w.estimate.effect)
                    .map(|x| scale * x)
            })
            .collect(),
        None => Vec::new(),
    };

    let root = SVGBackend::with_string(svg, (WIDTH, 545)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        &format!("{}: weekly means and treatment effect", e.outcome),
        (FONT, 22),
    )?;
    let (top, strip) = root.split_vertically(420);
    let (left, right) = top.split_horizontally(WIDTH / 2);
    let x_range = week_range(&weeks);
    let (unit_means, unit_effect) = match o.unit {
        Unit::Share => ("share of persons (%)", "effect (percentage points)"),
        Unit::Hours => ("ordinary hours per week", "effect (hours per week)"),
        Unit::CumulativeHours => ("hours since referral", "effect (hours)"),
        Unit::Weeks => ("weeks since referral", "effect (weeks)"),
    };

    let y = value_range(
        treat.iter().chain(&control).flatten().copied(),
        o.unit == Unit::Share,
    );
    let mut means = ChartBuilder::on(&left)
        .caption("Means by arm", (FONT, 17))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x_range.clone(), y)?;
    axes(&mut means, unit_means)?;
    for (arm, values) in [(Arm::Treatment, &treat), (Arm::Control, &control)] {
        let colour = arm_colour(arm);
        let style = colour.stroke_width(2);
        for (i, segment) in segments(&weeks, values).into_iter().enumerate() {
            let series = means.draw_series(LineSeries::new(segment, style))?;
            if i == 0 {
                series.label(arm.name()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(2))
                });
            }
        }
    }
    legend(&mut means, SeriesLabelPosition::UpperLeft)?;

    let y = value_range(
        effect
            .iter()
            .chain(&lo)
            .chain(&hi)
            .chain(&band_lo)
            .chain(&band_hi)
            .chain(&adjusted)
            .flatten()
            .copied()
            .chain([0.0]),
        false,
    );
    let mut fx = ChartBuilder::on(&right)
        .caption("Treatment − control", (FONT, 17))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x_range.clone(), y)?;
    axes(&mut fx, unit_effect)?;
    fx.draw_series(LineSeries::new(
        [(x_range.start, 0.0), (x_range.end, 0.0)],
        BLACK.mix(0.5).stroke_width(1),
    ))?;
    let level = format!("{}%", (100.0 * e.design.level.get()).round());
    let grey = RGBColor(90, 90, 90);
    for (i, (low, high)) in segments(&weeks, &lo)
        .into_iter()
        .zip(segments(&weeks, &hi))
        .enumerate()
    {
        let polygon: Vec<(f64, f64)> = low.iter().copied().chain(high.into_iter().rev()).collect();
        let series = fx.draw_series(std::iter::once(Polygon::new(polygon, grey.mix(0.25))))?;
        if i == 0 {
            series.label(format!("{level} CI")).legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 24, y + 5)], grey.mix(0.25).filled())
            });
        }
    }
    if e.band.is_some() {
        for bound in [&band_lo, &band_hi] {
            for segment in segments(&weeks, bound) {
                fx.draw_series(DashedLineSeries::new(segment, 6, 4, grey.stroke_width(1)))?;
            }
        }
        fx.draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?
            .label(format!("simultaneous {level} band"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 8, y)], grey.stroke_width(1)));
    }
    for (i, segment) in segments(&weeks, &effect).into_iter().enumerate() {
        let series = fx.draw_series(LineSeries::new(segment, BLACK.stroke_width(2)))?;
        if i == 0 {
            series.label("effect").legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], BLACK.stroke_width(2))
            });
        }
    }
    let lin = RGBColor(0, 110, 90);
    for (i, segment) in segments(&weeks, &adjusted).into_iter().enumerate() {
        let series = fx.draw_series(DashedLineSeries::new(segment, 8, 3, lin.stroke_width(2)))?;
        if i == 0 {
            series
                .label("covariate-adjusted (Lin)")
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], lin.stroke_width(2))
                });
        }
    }
    legend(&mut fx, SeriesLabelPosition::UpperLeft)?;

    // Persons followed per arm at the labelled weeks, under each panel.
    let at = |k: i32| rows.iter().find(|r| r.week == k).map(|r| &r.estimate);
    let ticks = tick_weeks(&weeks);
    let counts = |arm: Arm| -> Vec<(f64, String)> {
        ticks
            .iter()
            .filter_map(|&k| {
                let e = at(k)?;
                let n = if arm == Arm::Treatment {
                    e.n_treat
                } else {
                    e.n_control
                };
                Some((f64::from(k), n.to_string()))
            })
            .collect()
    };
    let strip_y = strip.get_pixel_range().1.start;
    let counts = [
        (Arm::Treatment, counts(Arm::Treatment)),
        (Arm::Control, counts(Arm::Control)),
    ];
    at_risk_strip(
        &root,
        strip_y,
        "Persons followed (treatment above, control below)",
        &counts,
        &|x| means.backend_coord(&(x, 0.0)).0,
    )?;
    at_risk_strip(&root, strip_y, "", &counts, &|x| {
        fx.backend_coord(&(x, 0.0)).0
    })?;
    root.present()
}

/// Kaplan–Meier cumulative incidence per arm with confidence bands.
pub fn kaplan_meier(sp: &SpellResults) -> Result<String> {
    render(KM_FILE, |svg| draw_km(sp, svg))
}

fn draw_km(sp: &SpellResults, svg: &mut String) -> DrawResult {
    let km = &sp.km;
    let root = SVGBackend::with_string(svg, (WIDTH, 580)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        &format!(
            "Time to a completed {}-week spell (gaps up to {} weeks): Kaplan–Meier",
            sp.rule.min_weeks, sp.rule.max_gap
        ),
        (FONT, 22),
    )?;
    let (top, strip) = root.split_vertically(470);
    let weeks: Vec<f64> = km
        .curves
        .iter()
        .flatten()
        .map(|r| f64::from(r.week))
        .collect();
    let x_range = week_range(&weeks);
    let y_max = km
        .curves
        .iter()
        .flatten()
        .map(|r| 100.0 * r.ci_high.unwrap_or(r.cum_incidence))
        .fold(10.0_f64, f64::max);
    let mut chart = ChartBuilder::on(&top)
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x_range.clone(), 0.0..(y_max * 1.08).min(100.0))?;
    axes(&mut chart, "completed a spell (%, cumulative incidence)")?;
    let level = format!("{}%", (100.0 * km.level.get()).round());
    for arm in [Arm::Treatment, Arm::Control] {
        let colour = arm_colour(arm);
        let rows = &km.curves[arm as usize];
        let step = |f: &dyn Fn(&crate::stats::KaplanMeierRow) -> Option<f64>| {
            let mut pts = Vec::with_capacity(2 * rows.len());
            let mut prev: Option<f64> = None;
            for r in rows {
                let x = f64::from(r.week);
                let y = f(r).map(|v| 100.0 * v);
                if let (Some(p), Some(_)) = (prev, y) {
                    pts.push((x, p));
                }
                if let Some(y) = y {
                    pts.push((x, y));
                }
                prev = y.or(prev);
            }
            pts
        };
        let (low, high) = (step(&|r| r.ci_low), step(&|r| r.ci_high));
        if !low.is_empty() && low.len() == high.len() {
            let polygon: Vec<(f64, f64)> = low.into_iter().chain(high.into_iter().rev()).collect();
            chart.draw_series(std::iter::once(Polygon::new(polygon, colour.mix(0.15))))?;
        }
        chart
            .draw_series(LineSeries::new(
                step(&|r| Some(r.cum_incidence)),
                colour.stroke_width(2),
            ))?
            .label(format!("{} ({level} CI shaded)", arm.name()))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(2))
            });
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    let ticks = tick_weeks(&weeks);
    let counts = |arm: Arm| -> Vec<(f64, String)> {
        ticks
            .iter()
            .filter_map(|&k| {
                let r = km.curves[arm as usize].iter().find(|r| r.week == k)?;
                Some((f64::from(k), r.at_risk.to_string()))
            })
            .collect()
    };
    let strip_y = strip.get_pixel_range().1.start;
    at_risk_strip(
        &root,
        strip_y,
        "At risk (treatment above, control below)",
        &[
            (Arm::Treatment, counts(Arm::Treatment)),
            (Arm::Control, counts(Arm::Control)),
        ],
        &|x| chart.backend_coord(&(x, 0.0)).0,
    )?;
    root.present()
}

/// Distribution of positive hours by arm (share of each arm's working
/// persons per bucket).
pub fn hours_distribution(h: &HoursResults) -> Result<String> {
    render(HOURS_FILE, |svg| draw_hours(h, svg))
}

fn draw_hours(h: &HoursResults, svg: &mut String) -> DrawResult {
    let d = &h.distribution;
    let n = d.buckets.len();
    let shares = |arm: Arm| -> Vec<f64> {
        d.shares(arm)
            .into_iter()
            .map(|s| 100.0 * s.unwrap_or(0.0))
            .collect()
    };
    let (st, sc) = (shares(Arm::Treatment), shares(Arm::Control));
    let y_max = st.iter().chain(&sc).copied().fold(10.0_f64, f64::max) * 1.1;
    let root = SVGBackend::with_string(svg, (WIDTH, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        &format!(
            "Ordinary hours at week {} among those working (treatment n = {}, control n = {})",
            h.week,
            d.counts[Arm::Treatment as usize].iter().sum::<usize>(),
            d.counts[Arm::Control as usize].iter().sum::<usize>()
        ),
        (FONT, 20),
    )?;
    let mut chart = ChartBuilder::on(&root)
        .margin(14)
        .x_label_area_size(64)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..n as f64, 0.0..y_max)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .x_desc("ordinary hours in the week")
        .y_desc("share of those working (%)")
        .y_label_formatter(&|y| tick_label(*y))
        .light_line_style(WHITE)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()?;
    for (arm, values, offset) in [(Arm::Treatment, &st, 0.1), (Arm::Control, &sc, 0.52)] {
        let colour = arm_colour(arm);
        chart
            .draw_series(values.iter().enumerate().map(|(i, &v)| {
                let x = i as f64 + offset;
                Rectangle::new([(x, 0.0), (x + 0.38, v)], colour.filled())
            }))?
            .label(arm.name())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], colour.filled()));
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    let style = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    // The chart's backend coordinates, drawn on the titled area below the title.
    let (left, top) = root.get_base_pixel();
    for (i, bucket) in d.buckets.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        root.draw(&Text::new(
            bucket.clone(),
            (x - left, y - top + 6),
            style.clone(),
        ))?;
    }
    root.present()
}

/// Axis styles and titles shared by the line charts.
fn axes(chart: &mut Chart<'_>, y_desc: &str) -> DrawResult {
    chart
        .configure_mesh()
        .x_desc("event week (0 = referral week)")
        .y_desc(y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| tick_label(*y))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(WHITE)
        .draw()
}

fn legend(chart: &mut Chart<'_>, position: SeriesLabelPosition) -> DrawResult {
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
}

/// Rows of counts per arm under a chart: `x_of` maps a week to the chart's
/// pixel column.
fn at_risk_strip(
    root: &Area<'_>,
    top: i32,
    title: &str,
    rows: &[(Arm, Vec<(f64, String)>)],
    x_of: &dyn Fn(f64) -> i32,
) -> DrawResult {
    let centred = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    let left = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Left, VPos::Top));
    if !title.is_empty() {
        root.draw(&Text::new(title.to_string(), (8, top + 4), left.clone()))?;
    }
    for (i, (arm, counts)) in rows.iter().enumerate() {
        let y = top + 22 + 18 * i as i32;
        let colour = arm_colour(*arm);
        let style = centred.clone().color(&colour);
        for (x, n) in counts {
            root.draw(&Text::new(n.clone(), (x_of(*x), y), style.clone()))?;
        }
    }
    Ok(())
}

fn arm_colour(arm: Arm) -> RGBColor {
    match arm {
        Arm::Treatment => TREATMENT,
        Arm::Control => CONTROL,
    }
}

/// Runs of consecutive weeks with a value, as polyline points.
fn segments(weeks: &[f64], values: &[Option<f64>]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current = Vec::new();
    for (&x, v) in weeks.iter().zip(values) {
        match v {
            Some(y) if y.is_finite() => current.push((x, *y)),
            _ if !current.is_empty() => out.push(std::mem::take(&mut current)),
            _ => {}
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn week_range(weeks: &[f64]) -> std::ops::Range<f64> {
    let lo = weeks.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = weeks.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if lo.is_finite() && hi > lo {
        lo..hi
    } else if lo.is_finite() {
        lo - 1.0..lo + 1.0
    } else {
        0.0..1.0
    }
}

/// A y range around the values with 8% headroom; from 0 for shares.
fn value_range(values: impl Iterator<Item = f64>, from_zero: bool) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    if from_zero {
        lo = lo.min(0.0);
    }
    if hi - lo < 1e-9 {
        hi += 1.0;
        lo -= if from_zero { 0.0 } else { 1.0 };
    }
    let pad = 0.08 * (hi - lo);
    (if from_zero && lo >= 0.0 { lo } else { lo - pad })..hi + pad
}

/// An axis tick: no trailing zeros (`12`, `2.5`), a true minus sign.
fn tick_label(y: f64) -> String {
    match super::numbers::trim(y, 2).as_str() {
        "-0" => "0".into(),
        t => t.replace('-', "−"),
    }
}

/// Weeks labelled with counts: every 5th week (every 10th beyond 60 weeks).
fn tick_weeks(weeks: &[f64]) -> Vec<i32> {
    let r = week_range(weeks);
    let step = if r.end - r.start > 60.0 { 10 } else { 5 };
    let (lo, hi) = (r.start.ceil() as i32, r.end.floor() as i32);
    (lo..=hi).filter(|k| k.rem_euclid(step) == 0).collect()
}

#[cfg(test)]
mod label_tests {
    use super::place_labels;

    #[test]
    fn long_labels_wrap_after_underscores_and_at_spaces() {
        assert_eq!(
            super::wrap_label("first_talk_within_4_weeks", 14),
            ["first_talk_", "within_4_weeks"]
        );
        assert_eq!(
            super::wrap_label("frequent_talks (survey, wave 6)", 14),
            ["frequent_talks", "(survey, wave", "6)"]
        );
        assert_eq!(super::wrap_label("spell", 14), ["spell"]);
    }

    #[test]
    fn labels_of_crowded_points_do_not_overlap() {
        // Nine sites within a few pixels of each other, labels 70 × 14.
        let points: Vec<(i32, i32)> = (0..9).map(|i| (300 + i % 3, 200 + i / 3)).collect();
        let sizes = vec![(70, 14); 9];
        let at = place_labels(&points, &sizes, (700, 560));
        for i in 0..9 {
            let a = (at[i].0, at[i].1, at[i].0 + 70, at[i].1 + 14);
            assert!(
                a.0 >= 0 && a.1 >= 0 && a.2 <= 700 && a.3 <= 560,
                "{a:?} outside"
            );
            for (j, other) in at.iter().enumerate().take(i) {
                let b = (other.0, other.1, other.0 + 70, other.1 + 14);
                let apart = a.2 <= b.0 || b.2 <= a.0 || a.3 <= b.1 || b.3 <= a.1;
                assert!(apart, "labels {i} {a:?} and {j} {b:?} overlap");
            }
            for p in &points {
                let clear = a.2 <= p.0 - 6 || p.0 + 6 <= a.0 || a.3 <= p.1 - 6 || p.1 + 6 <= a.1;
                assert!(clear, "label {i} covers the point {p:?}");
            }
        }
        // The same places whatever the order of the sites.
        let mut reversed = points.clone();
        reversed.reverse();
        let again = place_labels(&reversed, &sizes, (700, 560));
        let mut a: Vec<_> = at.clone();
        let mut b: Vec<_> = again.clone();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b);
    }
}
