//! Many outcomes at once: families of hypotheses with family-wise error
//! control (methods §10).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::estimators::{Design, RandomisationSpec, WeeklyEffects, redraw, weekly_effects};
use crate::outcome::OutcomeValues;
use crate::progress::DrawReport;
use crate::stats;

/// One hypothesis of a family: an outcome at an event week.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FamilyMember {
    /// Outcome name.
    pub outcome: String,
    /// Event week.
    pub week: i32,
    /// The difference in means (as in the weekly effects).
    pub effect: Option<f64>,
    /// Its t statistic.
    pub t: Option<f64>,
    /// Its own p-value (Student t with the estimate's df).
    pub p_value: Option<f64>,
    /// Holm's adjustment of `p_value` within the family.
    pub p_holm: Option<f64>,
    /// The randomisation p-value of |t| alone.
    pub p_randomisation: Option<f64>,
    /// The Westfall–Young step-down max-|t| adjusted p-value: family-wise
    /// error control from the randomisation re-draws.
    pub p_fwer: Option<f64>,
}

/// The tests of one family.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FamilyTest {
    /// Family name.
    pub name: String,
    /// Re-draws used (every assignment when `exact`).
    pub draws: usize,
    /// Every assignment was enumerated.
    pub exact: bool,
    /// Seed of the re-draws.
    pub seed: u64,
    /// The hypotheses, in the order given.
    pub members: Vec<FamilyMember>,
}

/// Most hypotheses in one family.
pub const MAX_MEMBERS: usize = 1000;

/// Many outcomes at once: families of hypotheses with family-wise error
/// control (methods §10).
///
/// A family is a set of (outcome, event week) hypotheses that a report
/// reads together, such as the primary outcomes at the snapshot weeks.
/// [`family_test`] re-draws the assignment once for all of them (the d-th
/// re-draw is the same assignment for every outcome, so the dependence
/// between outcomes and weeks is kept) and gives, per hypothesis:
///
/// * the randomisation p-value of its own |t| (as
///   [`randomisation_test`](crate::estimators::randomisation_test));
/// * the Westfall–Young step-down max-|t| adjusted p-value, which controls
///   the family-wise error rate ([`stats::westfall_young`]);
/// * Holm's adjustment of the estimates' own p-values within the family.
///
/// ```
/// use trialpanel::simulate::{simulate, TrialSpec};
/// use trialpanel::estimators::RandomisationSpec;
/// use trialpanel::estimators::family_test;
/// use trialpanel::{CodeTable, Design, LongColumns, Outcome, Panel, PersonSpec, Persons};
///
/// let trial = simulate(&TrialSpec { persons: 300, ..TrialSpec::default() })?;
/// let persons = Persons::from_frame(trial.persons, "persons", &PersonSpec::default())?;
/// let codes = CodeTable::from_frame(trial.codes, "codes")?;
/// let panel = Panel::builder(&persons, &codes)
///     .long_frame(trial.register, "register", &LongColumns::default())?;
/// let employed = Outcome::employed(0.0).evaluate(&panel, 0..=26)?;
/// let hours = Outcome::hours().evaluate(&panel, 0..=26)?;
/// let family = family_test(
///     "primary",
///     &[(&employed, &[13, 26][..]), (&hours, &[13, 26][..])],
///     &Design::default(),
///     &RandomisationSpec::new(200, 1)?,
/// )?;
/// assert_eq!(family.members.len(), 4);
/// # Ok::<(), trialpanel::Error>(())
/// ```
///
/// The family `name` of hypotheses `members` (each outcome's values with
/// the weeks it contributes): per hypothesis its randomisation p, the
/// Westfall–Young adjusted p and Holm's p within the family (as above).
/// Every outcome must come from the same panel.
pub fn family_test(
    name: &str,
    members: &[(&OutcomeValues<'_>, &[i32])],
    design: &Design,
    options: &RandomisationSpec,
) -> Result<FamilyTest> {
    let parts = members
        .iter()
        .map(|(values, weeks)| {
            let effects = weekly_effects(values, design)?;
            FamilyPart::of(name, values, &effects, weeks, design, options, None)
        })
        .collect::<Result<Vec<_>>>()?;
    combine(name, parts, options.seed())
}

/// One outcome's share of a family: its hypotheses and their observed and
/// re-drawn statistics. An analysis evaluates one outcome at a time and
/// keeps only this.
pub(crate) struct FamilyPart {
    members: Vec<FamilyMember>,
    observed: Vec<Option<f64>>,
    drawn: Vec<Vec<Option<f64>>>,
    exact: bool,
}

impl FamilyPart {
    /// The hypotheses of `values` at `weeks`, with the outcome's weekly
    /// `effects` (for the estimates and their own p-values).
    pub(crate) fn of(
        family: &str,
        values: &OutcomeValues<'_>,
        effects: &WeeklyEffects,
        weeks: &[i32],
        design: &Design,
        options: &RandomisationSpec,
        report: Option<DrawReport<'_>>,
    ) -> Result<FamilyPart> {
        if let Some(k) = weeks.iter().find(|k| values.week(**k).is_none()) {
            return Err(Error::InvalidSetting {
                name: format!("family `{family}`"),
                reason: format!("outcome `{}` has no event week {k}", values.name()),
            });
        }
        let r = redraw(values, design, options, weeks, report)?;
        let members = weeks
            .iter()
            .enumerate()
            .map(|(i, &k)| {
                let e = effects.week(k).map(|w| w.estimate).unwrap_or_default();
                FamilyMember {
                    outcome: values.name().to_string(),
                    week: k,
                    effect: e.effect,
                    t: r.observed[i],
                    p_value: e.p_value,
                    p_holm: None,
                    p_randomisation: r.p_value(r.observed[i], r.drawn.iter().map(|t| t[i])),
                    p_fwer: None,
                }
            })
            .collect();
        Ok(FamilyPart {
            members,
            observed: r.observed,
            drawn: r.drawn,
            exact: r.exact,
        })
    }
}

/// The family of `parts` (each from the same panel, design and re-draws).
pub(crate) fn combine(name: &str, parts: Vec<FamilyPart>, seed: u64) -> Result<FamilyTest> {
    let size: usize = parts.iter().map(|p| p.members.len()).sum();
    if size == 0 || size > MAX_MEMBERS {
        return Err(Error::InvalidSetting {
            name: format!("family `{name}`"),
            reason: format!("needs 1 to {MAX_MEMBERS} (outcome, week) hypotheses, not {size}"),
        });
    }
    let draws = parts.first().map_or(0, |p| p.drawn.len());
    if parts.iter().any(|p| p.drawn.len() != draws) {
        return Err(Error::Internal {
            what: format!("family `{name}`"),
            message: "its outcomes were re-drawn a different number of times".into(),
        });
    }
    let exact = parts.iter().all(|p| p.exact);
    let mut members = Vec::with_capacity(size);
    let mut observed = Vec::with_capacity(size);
    let mut drawn: Vec<Vec<Option<f64>>> = vec![Vec::with_capacity(size); draws];
    for part in parts {
        members.extend(part.members);
        observed.extend(part.observed);
        for (all, these) in drawn.iter_mut().zip(part.drawn) {
            all.extend(these);
        }
    }
    let p: Vec<Option<f64>> = members.iter().map(|m| m.p_value).collect();
    for ((m, holm), wy) in members
        .iter_mut()
        .zip(stats::holm(&p))
        .zip(stats::westfall_young(&observed, &drawn, exact))
    {
        m.p_holm = holm;
        m.p_fwer = wy;
    }
    Ok(FamilyTest {
        name: name.to_string(),
        draws,
        exact,
        seed,
        members,
    })
}
