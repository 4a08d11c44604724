//! The checks of an analysis file that need no data: each names the key
//! it is about. The data-dependent checks (categories in the code table,
//! weeks inside the panel, covariates present) happen when the analysis
//! runs.

use std::collections::HashSet;
use std::path::Path;

use super::{AnalysisConfig, OutcomeKind, RegisterForm};
use crate::error::{Error, Result};
use crate::panel::MAX_HOURS;
use crate::table::name_problem;

/// Furthest event week, and longest window, an analysis file may name:
/// twenty years of weeks (a larger one is a typo, and one near `i32::MAX`
/// would wrap).
pub const MAX_EVENT_WEEKS: i32 = 1040;
use crate::estimators::SiteMeasure;

impl AnalysisConfig {
    /// Check the settings that do not need the data: the register form and
    /// its column table agree, outcome entries carry only their own keys and
    /// have distinct names, the weeks are ordered, history windows refer to
    /// known outcomes. The data-dependent checks (categories in the code
    /// table, weeks inside the panel, covariates present) happen when the
    /// analysis runs.
    pub fn check(&self, file: &Path) -> Result<()> {
        let bad = |key: String, message: String| Error::AnalysisFile {
            file: file.to_path_buf(),
            line: None,
            key,
            message,
        };
        match (self.inputs.form, &self.long, &self.wide) {
            (RegisterForm::Long, _, Some(_)) => {
                return Err(bad(
                    "wide".into(),
                    "a [wide] table needs `form = \"wide\"` in [inputs]".into(),
                ));
            }
            (RegisterForm::Wide, Some(_), _) => {
                return Err(bad(
                    "long".into(),
                    "a [long] table needs `form = \"long\"` in [inputs]".into(),
                ));
            }
            _ => {}
        }
        if let Some(gb) = self.inputs.memory_budget_gb
            && !(gb.is_finite() && gb > 0.0)
        {
            return Err(bad(
                "inputs.memory_budget_gb".into(),
                format!("must be a positive number of gigabytes, not {gb}"),
            ));
        }
        if self.report.min_cell == 0 {
            return Err(bad("report.min_cell".into(), "must be at least 1".into()));
        }
        self.check_ranges(&bad)?;
        self.check_weeks(&bad)?;
        self.check_outcomes(&bad)?;
        self.check_families(&bad)?;
        let b = &self.bands;
        if !(0.0 <= b.low && b.low <= b.high && b.high <= 1.0) {
            return Err(bad(
                "bands".into(),
                format!(
                    "needs 0 ≤ low ≤ high ≤ 1 (shares), not low {} and high {}",
                    b.low, b.high
                ),
            ));
        }
        let mut names = HashSet::new();
        for (i, p) in self.process.iter().enumerate() {
            let name = p.name();
            if let Some(problem) = name_problem(name) {
                return Err(bad(format!("process[{i}].name"), problem));
            }
            if !names.insert(name.to_string()) {
                return Err(bad(
                    format!("process[{i}].name"),
                    format!("`{name}` is used twice"),
                ));
            }
            check_setting(file, &format!("process[{i}]"), || p.check())?;
            if p.needs_events() && self.inputs.events.is_none() {
                return Err(bad(
                    format!("process[{i}]"),
                    format!("rule of `{name}` reads the event log: set `[inputs] events`"),
                ));
            }
        }
        self.check_fidelity(file, &bad)?;
        self.check_history(&bad)
    }

    /// The survey needs its file and settings together, the cost names
    /// known outcomes, and each correlation measures that exist.
    fn check_fidelity(&self, file: &Path, bad: &impl Fn(String, String) -> Error) -> Result<()> {
        match (&self.inputs.survey, &self.survey) {
            (Some(_), None) => {
                return Err(bad(
                    "survey".into(),
                    "`[inputs] survey` needs a `[survey]` table (scale and elements)".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(bad(
                    "inputs.survey".into(),
                    "`[survey]` needs the survey file".into(),
                ));
            }
            (Some(_), Some(spec)) => check_setting(file, "survey", || spec.check())?,
            (None, None) => {}
        }
        if self.inputs.invited.is_some() && self.inputs.survey.is_none() {
            return Err(bad(
                "inputs.invited".into(),
                "response rates need a survey".into(),
            ));
        }
        let known: Vec<String> = self.outcomes.iter().map(|o| o.display_name()).collect();
        if let Some(cost) = &self.cost {
            check_setting(file, "cost", || cost.check())?;
            for name in &cost.per {
                if !known.contains(name) {
                    return Err(bad(
                        "cost.per".into(),
                        format!(
                            "`{name}` is not an outcome (outcomes: {})",
                            crate::excerpt::list(&known)
                        ),
                    ));
                }
            }
        }
        for (i, c) in self.correlations.iter().enumerate() {
            for m in [&c.x, &c.y] {
                let problem = match m {
                    SiteMeasure::Process(name) => (!self.process.iter().any(|p| {
                        let n = p.name();
                        name == n
                            || name
                                .strip_prefix(n)
                                .is_some_and(|r| r == " (windows)" || r == " (events)")
                    }))
                    .then(|| format!("no `[[process]]` indicator `{name}`")),
                    SiteMeasure::Fidelity { element, .. } => match &self.survey {
                        None => Some("a fidelity measure needs `[survey]`".into()),
                        Some(s) => (!s.elements.contains_key(element))
                            .then(|| format!("no `[survey] elements` entry `{element}`")),
                    },
                    SiteMeasure::Effect { outcome, week } => {
                        match self.outcomes.iter().find(|o| &o.display_name() == outcome) {
                            None => Some(format!("`{outcome}` is not an outcome")),
                            Some(o) if !o.sites => {
                                Some(format!("outcome `{outcome}` needs `sites = true`"))
                            }
                            Some(_)
                                if *week < self.weeks.first
                                    || self.weeks.last.is_some_and(|l| *week > l) =>
                            {
                                Some(format!("week {week} is not estimated"))
                            }
                            Some(_) => None,
                        }
                    }
                };
                if let Some(reason) = problem {
                    return Err(bad(format!("correlations[{i}]"), reason));
                }
            }
        }
        Ok(())
    }

    /// Families have distinct names, known outcomes, weeks inside the
    /// estimated ones, and no (outcome, week) in two families.
    fn check_families(&self, bad: &impl Fn(String, String) -> Error) -> Result<()> {
        let known: Vec<String> = self.outcomes.iter().map(|o| o.display_name()).collect();
        let mut names = HashSet::new();
        let mut taken: HashSet<(String, i32)> = HashSet::new();
        for (i, f) in self.families.iter().enumerate() {
            let key = |field: &str| format!("families[{i}].{field}");
            if let Some(problem) = name_problem(&f.name) {
                return Err(bad(key("name"), problem));
            }
            if !names.insert(f.name.clone()) {
                return Err(bad(key("name"), format!("`{}` is used twice", f.name)));
            }
            if f.outcomes.is_empty() || f.weeks.is_empty() {
                return Err(bad(
                    key("outcomes"),
                    "a family needs outcomes and weeks".into(),
                ));
            }
            let size = f.outcomes.len() * f.weeks.len();
            if size > crate::estimators::MAX_MEMBERS {
                return Err(bad(
                    key("weeks"),
                    format!(
                        "{size} hypotheses; a family holds at most {}",
                        crate::estimators::MAX_MEMBERS
                    ),
                ));
            }
            for o in &f.outcomes {
                if !known.contains(o) {
                    return Err(bad(
                        key("outcomes"),
                        format!(
                            "`{o}` is not an outcome (outcomes: {})",
                            crate::excerpt::list(&known)
                        ),
                    ));
                }
                for &k in &f.weeks {
                    let inside = k >= self.weeks.first && self.weeks.last.is_none_or(|l| k <= l);
                    if !inside {
                        return Err(bad(key("weeks"), format!("week {k} is not estimated")));
                    }
                    if !taken.insert((o.clone(), k)) {
                        return Err(bad(
                            key("outcomes"),
                            format!("`{o}` at week {k} is already in a family"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Every number whose range does not depend on the data, with the
    /// range said: event weeks within ±[`MAX_EVENT_WEEKS`], history windows
    /// up to it, shares from 0 to 1, hours buckets positive, increasing and
    /// at most a week's hours, the title on one line without markup.
    fn check_ranges(&self, bad: &impl Fn(String, String) -> Error) -> Result<()> {
        let max = MAX_EVENT_WEEKS;
        let weeks = [
            ("weeks.first", Some(self.weeks.first)),
            ("weeks.last", self.weeks.last),
        ];
        for (key, k) in weeks {
            if let Some(k) = k
                && !(-max..=max).contains(&k)
            {
                return Err(bad(
                    key.into(),
                    format!("must be from -{max} to {max}, not {k}"),
                ));
            }
        }
        for (i, h) in self.balance.history.iter().enumerate() {
            if h.weeks > max as u32 {
                return Err(bad(
                    format!("balance.history[{i}].weeks"),
                    format!("must be from 1 to {max}, not {}", h.weeks),
                ));
            }
        }
        for (i, o) in self.outcomes.iter().enumerate() {
            let Some(rule) = &o.rule else { continue };
            let key = |field: &str| format!("outcomes[{i}].rule.{field}");
            if !(1..=max as u32).contains(&rule.min_weeks) {
                return Err(bad(
                    key("min_weeks"),
                    format!("must be from 1 to {max}, not {}", rule.min_weeks),
                ));
            }
            if rule.max_gap > max as u32 {
                return Err(bad(
                    key("max_gap"),
                    format!("must be from 0 to {max}, not {}", rule.max_gap),
                ));
            }
            if !(-max..=max).contains(&rule.first_week) {
                return Err(bad(
                    key("first_week"),
                    format!("must be from -{max} to {max}, not {}", rule.first_week),
                ));
            }
            if let Some(t) = rule.hours_threshold
                && !(t.is_finite() && (0.0..=MAX_HOURS).contains(&t))
            {
                return Err(bad(
                    key("hours_threshold"),
                    format!("must be from 0 to {MAX_HOURS} hours, not {t}"),
                ));
            }
        }
        if let Some(share) = self.inputs.max_unknown_share
            && !(0.0..=1.0).contains(&share)
        {
            return Err(bad(
                "inputs.max_unknown_share".into(),
                format!("must be a share from 0 to 1, not {share}"),
            ));
        }
        let b = &self.report.hours_buckets;
        let increasing = b.windows(2).all(|w| w[0] < w[1]);
        if b.is_empty() || !increasing || !b.iter().all(|x| *x > 0.0 && *x <= MAX_HOURS) {
            return Err(bad(
                "report.hours_buckets".into(),
                format!(
                    "needs increasing upper bounds above 0 and at most {MAX_HOURS} hours, not \
                     {b:?}"
                ),
            ));
        }
        let currency = &self.report.currency;
        if let Some(problem) = crate::table::name_problem(currency) {
            return Err(bad("report.currency".into(), problem));
        }
        if currency.chars().count() > 12 {
            return Err(bad(
                "report.currency".into(),
                format!("must be a short unit such as `DKK` or `kr.`, not `{currency}`"),
            ));
        }
        if self
            .title
            .chars()
            .any(|c| c.is_control() || c == '<' || c == '>')
        {
            return Err(bad(
                "title".into(),
                "must be one line without `<` or `>` (it heads report.md and report.html)".into(),
            ));
        }
        Ok(())
    }

    fn check_weeks(&self, bad: &impl Fn(String, String) -> Error) -> Result<()> {
        let w = &self.weeks;
        if let Some(last) = w.last
            && last < w.first
        {
            return Err(bad(
                "weeks.last".into(),
                format!("{last} is before weeks.first = {}", w.first),
            ));
        }
        let inside = |k: i32| k >= w.first && w.last.is_none_or(|last| k <= last);
        let range = || match w.last {
            Some(last) => format!("{}..={last}", w.first),
            None => format!("{}..", w.first),
        };
        for (i, &k) in w.snapshot.iter().flatten().enumerate() {
            if !inside(k) {
                return Err(bad(
                    format!("weeks.snapshot[{i}]"),
                    format!("week {k} is outside the estimated weeks {}", range()),
                ));
            }
        }
        for (key, k) in [
            ("weeks.significant_through", w.significant_through),
            ("report.hours_week", self.report.hours_week),
        ] {
            if let Some(k) = k
                && !inside(k)
            {
                return Err(bad(
                    key.into(),
                    format!("week {k} is outside the estimated weeks {}", range()),
                ));
            }
        }
        Ok(())
    }

    fn check_outcomes(&self, bad: &impl Fn(String, String) -> Error) -> Result<()> {
        if self.outcomes.is_empty() {
            return Err(bad(
                "outcomes".into(),
                "give at least one [[outcomes]] entry".into(),
            ));
        }
        let mut names = HashSet::new();
        let mut spell: Option<usize> = None;
        for (i, o) in self.outcomes.iter().enumerate() {
            let key = |field: &str| format!("outcomes[{i}].{field}");
            let only = |field: &str, set: bool, kind: OutcomeKind| {
                if set && o.kind != kind {
                    Err(bad(
                        key(field),
                        format!(
                            "applies only to kind = \"{}\", not \"{}\"",
                            kind.name(),
                            o.kind.name()
                        ),
                    ))
                } else {
                    Ok(())
                }
            };
            only("categories", o.categories.is_some(), OutcomeKind::InState)?;
            only("threshold", o.threshold.is_some(), OutcomeKind::Employed)?;
            only("rule", o.rule.is_some(), OutcomeKind::Spell)?;
            if o.kind == OutcomeKind::InState {
                if o.name.is_none() {
                    return Err(bad(key("name"), "an in_state outcome needs a name".into()));
                }
                if o.categories.as_ref().is_none_or(Vec::is_empty) {
                    return Err(bad(
                        key("categories"),
                        "an in_state outcome needs at least one category".into(),
                    ));
                }
            }
            if let Some(t) = o.threshold
                && !(t.is_finite() && t >= 0.0)
            {
                return Err(bad(
                    key("threshold"),
                    format!("must be finite and ≥ 0, not {t}"),
                ));
            }
            if o.kind == OutcomeKind::Spell {
                if o.cumulative {
                    return Err(bad(
                        key("cumulative"),
                        "a spell indicator is already cumulative".into(),
                    ));
                }
                if let Some(first) = spell {
                    return Err(bad(
                        key("kind"),
                        format!(
                            "only one spell outcome per analysis (outcomes[{first}] is one); \
                             spell_km.csv and the Kaplan–Meier section describe one rule"
                        ),
                    ));
                }
                spell = Some(i);
            }
            let name = o.display_name();
            let file_safe = |c: char| c.is_ascii_alphanumeric() || "_-.".contains(c);
            if name.is_empty() || !name.chars().all(file_safe) {
                return Err(bad(
                    key("name"),
                    format!(
                        "`{name}`: outcome names also name figure files; \
                         use letters, digits, `_`, `-` and `.`"
                    ),
                ));
            }
            if !names.insert(name.clone()) {
                return Err(bad(
                    key("name"),
                    format!("another outcome is already named `{name}`; give this one a name"),
                ));
            }
        }
        Ok(())
    }

    fn check_history(&self, bad: &impl Fn(String, String) -> Error) -> Result<()> {
        let mut names = HashSet::new();
        for (i, h) in self.balance.history.iter().enumerate() {
            let key = |field: &str| format!("balance.history[{i}].{field}");
            if h.weeks == 0 {
                return Err(bad(
                    key("weeks"),
                    "the window must be at least 1 week".into(),
                ));
            }
            self.history_outcome(h)
                .map_err(|message| bad(key("outcome"), message))?;
            if let Some(problem) = name_problem(&h.column_name()) {
                return Err(bad(key("name"), problem));
            }
            if !names.insert(h.column_name()) {
                return Err(bad(
                    key("name"),
                    format!("another history covariate is named `{}`", h.column_name()),
                ));
            }
        }
        Ok(())
    }
}

/// Run a library check and name the analysis-file key in its error.
fn check_setting(file: &Path, key: &str, check: impl FnOnce() -> Result<()>) -> Result<()> {
    check().map_err(|e| match e {
        Error::InvalidSetting { reason, .. } => Error::AnalysisFile {
            file: file.to_path_buf(),
            line: None,
            key: key.into(),
            message: reason,
        },
        other => other,
    })
}
