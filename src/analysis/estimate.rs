//! The estimation stage of a run: each outcome's effects, from its values
//! (band, randomisation, sites, subgroups, family parts, the Lin estimate)
//! or from the weekly sums; the families' tests; and the tables built from
//! the tally (time to a spell, hours, balance, process, fidelity, cost,
//! correlations).

use std::ops::RangeInclusive;

use super::Inputs;
use super::tally::{Tally, snapshot};
use crate::config::{AnalysisConfig, OutcomeConfig, OutcomeKind};
use crate::error::{Error, Result};
use crate::estimators::{
    self, Adjustment, BalanceSpec, FamilyPart, FamilyTest, GroupEffects, RandomisationTest,
    Significance, WeeklyEffects,
};
use crate::estimators::{Balance, CostEffects, Fidelity, ProcessTable, SiteCorrelation, Sources};
use crate::excerpt::list;
use crate::inputs::Persons;
use crate::panel::LoadReport;
use crate::panel::Panel;
use crate::progress::DrawReport;
use crate::results::{
    EventLogSummary, HoursResults, OutcomeResults, Results, Significant, SignificantFrom,
    SpellResults, TrialSummary,
};

/// An outcome's effects before they become its [`OutcomeResults`].
pub(super) struct Effects {
    weekly: WeeklyEffects,
    adjusted: Option<WeeklyEffects>,
    /// (family, position of the outcome in it, its part of the family).
    family_parts: Vec<(usize, usize, FamilyPart)>,
    randomisation: Option<RandomisationTest>,
    sites: Option<GroupEffects>,
    subgroups: Vec<GroupEffects>,
}

impl Effects {
    /// Effects from the weekly sums alone.
    fn of_sums(weekly: WeeklyEffects) -> Effects {
        Effects {
            weekly,
            adjusted: None,
            family_parts: Vec::new(),
            randomisation: None,
            sites: None,
            subgroups: Vec::new(),
        }
    }
}

/// What reading the register gave: the tally of every person, the
/// person-level effects of the outcomes routed through their values
/// (`None`: from the tally's sums), the Lin estimate's covariates, and the
/// number of parts read.
pub(super) struct Read {
    pub(super) tally: Tally,
    pub(super) effects: Vec<Option<Effects>>,
    pub(super) adjustment: Option<Adjustment>,
    pub(super) parts: usize,
}

/// Every result of a run but its settings and warnings.
pub(super) struct Estimated {
    pub(super) snapshot: Vec<i32>,
    pub(super) detail_week: i32,
    pub(super) trial: TrialSummary,
    pub(super) outcomes: Vec<OutcomeResults>,
    pub(super) families: Vec<FamilyTest>,
    pub(super) process: Vec<ProcessTable>,
    pub(super) events: Option<EventLogSummary>,
    pub(super) fidelity: Option<Fidelity>,
    pub(super) cost: Option<CostEffects>,
    pub(super) correlations: Vec<SiteCorrelation>,
    pub(super) spell: Option<SpellResults>,
    pub(super) hours: Option<HoursResults>,
    pub(super) balance: Balance,
    /// What the warnings need beyond the results.
    pub(super) adjustment: Option<Adjustment>,
    pub(super) load: LoadReport,
}

/// Every estimate from what reading the register gave.
pub(super) fn estimate(
    c: &AnalysisConfig,
    inputs: &Inputs,
    read: Read,
    progress: &mut impl FnMut(&str),
) -> Result<Estimated> {
    let Read {
        tally,
        effects,
        adjustment,
        parts,
    } = read;
    let design = c.design.design();
    let level = design.level;
    let last = *tally.weeks.end();
    let snapshot = snapshot(c, last);
    let detail_week = c
        .weeks
        .significant_through
        .or(snapshot.last().copied())
        .unwrap_or(last);
    let (outcomes, families) = outcomes(c, tally.sums, effects)?;
    let spell = match (spell_outcome(c), tally.spell) {
        (Some(spec), Some(clock)) => {
            progress("Kaplan–Meier time to a completed spell");
            Some(SpellResults::of(clock, spec, level)?)
        }
        _ => None,
    };
    let hours = match tally.hours {
        Some(h) => Some(HoursResults {
            week: h.week(),
            among_working: h.among_working(level),
            distribution: h.distribution(&c.report.hours_buckets)?,
        }),
        None => None,
    };
    progress("balance tests");
    let balance = balance(
        &inputs.persons,
        &inputs.order,
        &inputs.balance,
        tally.history,
    )?;
    let trial = TrialSummary::of(
        &inputs.persons,
        tally.observed,
        tally.at_risk,
        tally.load.clone(),
        parts,
    )
    .with_followup_ended(tally.ended.as_deref(), &snapshot);
    let process: Vec<ProcessTable> = tally
        .process
        .iter()
        .map(|p| p.table(level, &c.bands))
        .collect();
    let fidelity = (inputs.survey.as_ref()).map(|s| estimators::fidelity(s, level, &c.bands));
    let cost = match (tally.cost, &c.cost) {
        (Some(person), Some(spec)) => Some(person.effects(spec, &design)),
        _ => None,
    };
    let site_effects: Vec<&GroupEffects> =
        outcomes.iter().filter_map(|o| o.sites.as_ref()).collect();
    let sources = Sources {
        process: &process,
        fidelity: fidelity.as_ref(),
        site_effects: &site_effects,
    };
    let correlations = c
        .correlations
        .iter()
        .map(|spec| estimators::correlate(spec, &sources, level))
        .collect::<Result<Vec<_>>>()?;
    Ok(Estimated {
        snapshot,
        detail_week,
        trial,
        outcomes,
        families,
        process,
        events: inputs.events.as_ref().map(|log| EventLogSummary {
            events: log.rows(),
            first_week: log.first_week(),
            last_week: log.last_week(),
            outside: log.outside(),
            before_referral: log.before_referral(),
            not_covered: inputs
                .persons
                .referral_weeks()
                .iter()
                .filter(|&&r| r < log.first_week())
                .count(),
        }),
        fidelity,
        cost,
        correlations,
        spell,
        hours,
        balance,
        adjustment,
        load: tally.load,
    })
}

impl Estimated {
    /// The results, with the settings, the run's warnings and the input
    /// files it read.
    pub(super) fn into_results(
        self,
        c: &AnalysisConfig,
        warnings: Vec<String>,
        inputs: Vec<std::path::PathBuf>,
    ) -> Results {
        Results {
            title: c.title.clone(),
            version: env!("CARGO_PKG_VERSION"),
            config: c.clone(),
            snapshot: self.snapshot,
            detail_week: self.detail_week,
            trial: self.trial,
            outcomes: self.outcomes,
            families: self.families,
            process: self.process,
            events: self.events,
            fidelity: self.fidelity,
            cost: self.cost,
            correlations: self.correlations,
            spell: self.spell,
            hours: self.hours,
            balance: self.balance,
            warnings,
            inputs,
        }
    }
}

/// The effects of an outcome from its evaluated values, with the band,
/// randomisation test and site effects it asks for, and the Lin estimate
/// with an `adjustment`.
pub(super) fn of_values(
    c: &AnalysisConfig,
    panel: &Panel,
    spec: &OutcomeConfig,
    weeks: RangeInclusive<i32>,
    adjustment: Option<&Adjustment>,
    progress: &mut impl FnMut(&str),
    draws: Option<DrawReport<'_>>,
) -> Result<Effects> {
    let design = c.design.design();
    let values = spec.outcome().evaluate(panel, weeks)?;
    let mut weekly = estimators::weekly_effects(&values, &design)?;
    let name = spec.display_name();
    if spec.band {
        progress(&format!(
            "simultaneous band of `{name}` ({} draws)",
            c.band.draws()
        ));
        let band = estimators::band(&values, &weekly, &c.band, draws)?;
        weekly = weekly.with_band(band);
    }
    let adjusted = adjustment
        .map(|a| estimators::lin_effects(&values, &design, a))
        .transpose()?;
    let mut family_parts = Vec::new();
    for (f, family) in c.families.iter().enumerate() {
        if let Some(at) = family.outcomes.iter().position(|o| *o == name) {
            progress(&format!(
                "re-drawing `{name}` for family `{}` ({} re-draws)",
                family.name,
                c.randomisation.draws()
            ));
            let part = FamilyPart::of(
                &family.name,
                &values,
                &weekly,
                &family.weeks,
                &design,
                &c.randomisation,
                draws,
            )?;
            family_parts.push((f, at, part));
        }
    }
    let randomisation = if spec.randomisation {
        progress(&format!(
            "randomisation test of `{name}` ({} re-draws)",
            c.randomisation.draws()
        ));
        Some(estimators::randomisation(
            &values,
            &design,
            &c.randomisation,
            draws,
        )?)
    } else {
        None
    };
    let sites = spec
        .sites
        .then(|| estimators::site_effects(&values, &design, c.report.min_cell))
        .transpose()?;
    let subgroups = spec
        .subgroups
        .iter()
        .map(|by| estimators::subgroup_effects(&values, &design, by, c.report.min_cell))
        .collect::<Result<Vec<_>>>()?;
    Ok(Effects {
        weekly,
        adjusted,
        randomisation,
        sites,
        subgroups,
        family_parts,
    })
}

/// Refuse, before the register is read, a Lin estimate with as many
/// parameters per arm (an intercept, the regressors `[design] adjust`
/// expands to and, blocked, the block dummies) as the smaller arm has
/// persons: every estimate would be missing after minutes of work. A
/// categorical covariate counts a dummy per level after the first, any
/// covariate with missing values its missing indicator, a history
/// covariate one (its missing values are known only once read).
pub(super) fn check_adjustment(c: &AnalysisConfig, persons: &Persons) -> Result<()> {
    use crate::inputs::CovariateValues;
    if c.design.adjust.is_empty() {
        return Ok(());
    }
    let mut regressors = 0usize;
    for name in &c.design.adjust {
        regressors += match persons.covariates().iter().find(|v| &v.name == name) {
            Some(v) => match &v.values {
                CovariateValues::Numeric(x) => 1 + usize::from(x.iter().any(Option::is_none)),
                CovariateValues::Categorical { levels, values } => {
                    levels.len().saturating_sub(1) + usize::from(values.iter().any(Option::is_none))
                }
            },
            None => 1,
        };
    }
    let blocks = if c.design.blocked {
        persons.blocks().labels.len().saturating_sub(1)
    } else {
        0
    };
    let parameters = 1 + regressors + blocks;
    let arm = |a| persons.arms().iter().filter(|&&x| x == a).count();
    let smaller = arm(crate::inputs::Arm::Treatment).min(arm(crate::inputs::Arm::Control));
    if parameters >= smaller {
        return Err(Error::InvalidSetting {
            name: "design.adjust".into(),
            reason: format!(
                "the Lin estimate of {} fits {parameters} parameters in each arm ({regressors} \
                 regressors{}, and an intercept), but the smaller arm has {smaller} persons: \
                 adjust for fewer covariates or covariates with fewer levels",
                list(&c.design.adjust),
                if blocks > 0 {
                    format!(", {blocks} block dummies")
                } else {
                    String::new()
                }
            ),
        });
    }
    Ok(())
}

/// The covariates of `[design] adjust` over the persons of `panel`:
/// person-table covariates, or history covariates (`history`: their values
/// in panel order, NaN for missing, in `spec`'s order).
pub(super) fn adjustment(
    c: &AnalysisConfig,
    panel: &Panel,
    spec: &BalanceSpec,
    history: &[Vec<f64>],
) -> Result<Option<Adjustment>> {
    let names = &c.design.adjust;
    if names.is_empty() {
        return Ok(None);
    }
    let mut adjustment = Adjustment::new();
    for name in names {
        adjustment = match spec.history.iter().position(|h| &h.name == name) {
            Some(i) => {
                let values: Vec<Option<f64>> = history[i]
                    .iter()
                    .map(|x| (!x.is_nan()).then_some(*x))
                    .collect();
                adjustment.values(name, &values)?
            }
            None if panel.persons().covariates().iter().any(|c| &c.name == name) => {
                adjustment.covariate(panel, name)?
            }
            None => {
                return Err(Error::InvalidSetting {
                    name: "design.adjust".into(),
                    reason: format!(
                        "`{name}` is neither a person-table covariate ({}) nor a \
                         [[balance.history]] covariate ({})",
                        list(panel.persons().covariates().iter().map(|c| c.name.as_str())),
                        list(spec.history.iter().map(|h| h.name.as_str())),
                    ),
                });
            }
        };
    }
    Ok(Some(adjustment))
}

/// Every outcome's results, in the order of the analysis file, from its
/// person-level `effects` (`None`: from the tally's weekly sums), with the
/// families' tests.
fn outcomes(
    c: &AnalysisConfig,
    tally_sums: Option<crate::outcome::WeeklySums>,
    mut effects: Vec<Option<Effects>>,
) -> Result<(Vec<OutcomeResults>, Vec<FamilyTest>)> {
    let design = c.design.design();
    let mut from_sums = match tally_sums {
        Some(sums) => estimators::weekly_effects_from_sums(&sums, &design)?,
        None => Vec::new(),
    }
    .into_iter();
    let mut outcomes = Vec::with_capacity(c.outcomes.len());
    let mut family_parts: Vec<Vec<(usize, FamilyPart)>> =
        c.families.iter().map(|_| Vec::new()).collect();
    for (spec, found) in c.outcomes.iter().zip(&mut effects) {
        let mut estimated = match found.take() {
            Some(estimated) => estimated,
            None => Effects::of_sums(from_sums.next().ok_or_else(|| Error::Internal {
                what: format!("outcome `{}`", spec.display_name()),
                message: "its weekly sums are missing".into(),
            })?),
        };
        for (f, at, part) in std::mem::take(&mut estimated.family_parts) {
            family_parts[f].push((at, part));
        }
        outcomes.push(outcome_results(c, spec, estimated));
    }
    let families = families(c, family_parts, &mut outcomes)?;
    Ok((outcomes, families))
}

/// Each `[[families]]` entry's test from its outcomes' parts (`parts[f]`:
/// (position of the outcome in the family, its part)), with every member's
/// row of `outcomes` marked with the family and its p_fwer.
fn families(
    c: &AnalysisConfig,
    parts: Vec<Vec<(usize, FamilyPart)>>,
    outcomes: &mut [OutcomeResults],
) -> Result<Vec<FamilyTest>> {
    let mut tests = Vec::with_capacity(parts.len());
    for (f, mut these) in c.families.iter().zip(parts) {
        these.sort_by_key(|(at, _)| *at);
        let test = estimators::combine(
            &f.name,
            these.into_iter().map(|(_, p)| p).collect(),
            c.randomisation.seed(),
        )?;
        for m in &test.members {
            let row = outcomes
                .iter_mut()
                .find(|o| o.effects.outcome == m.outcome)
                .and_then(|o| o.effects.rows.iter_mut().find(|r| r.week == m.week));
            if let Some(row) = row {
                row.family = Some(test.name.clone());
                row.p_fwer = m.p_fwer;
            }
        }
        tests.push(test);
    }
    Ok(tests)
}

/// The results of one outcome from its effects: where it is significant
/// at α = 1 − level, and from which week through `[weeks]
/// significant_through` when set.
fn outcome_results(c: &AnalysisConfig, spec: &OutcomeConfig, estimated: Effects) -> OutcomeResults {
    let Effects {
        weekly,
        adjusted,
        randomisation,
        sites,
        subgroups,
        ..
    } = estimated;
    let alpha = 1.0 - c.design.level.get();
    let weeks = |by| weekly.significant_weeks(by);
    let significant = Significant {
        alpha,
        pointwise: weeks(Significance::Pointwise(alpha)),
        holm: weeks(Significance::Holm(alpha)),
        benjamini_hochberg: weeks(Significance::BenjaminiHochberg(alpha)),
        band: weekly.band.as_ref().map(|_| weeks(Significance::Band)),
        from: c.weeks.significant_through.map(|through| SignificantFrom {
            through,
            from: weekly.significant_from(Significance::Pointwise(alpha), through),
        }),
    };
    OutcomeResults {
        unit: spec.unit(),
        significant,
        randomisation,
        sites,
        subgroups,
        effects: weekly,
        adjusted,
    }
}

/// The balance table over every person: person-table covariates and the
/// tally's history covariates, in panel `order`.
fn balance(
    persons: &Persons,
    order: &[usize],
    spec: &BalanceSpec,
    history: Vec<Vec<f64>>,
) -> Result<Balance> {
    let arms: Vec<_> = order.iter().map(|&i| persons.arms()[i]).collect();
    let blocks: Vec<u32> = order.iter().map(|&i| persons.blocks().index[i]).collect();
    let covariates = estimators::person_covariates(persons, order, spec)?;
    let history = history
        .into_iter()
        .map(|v| v.into_iter().map(|x| (!x.is_nan()).then_some(x)).collect())
        .collect();
    let clusters: Option<Vec<u32>> = persons
        .clusters()
        .map(|c| order.iter().map(|&i| c.index[i]).collect());
    estimators::balance_of(
        &arms,
        &blocks,
        clusters.as_deref(),
        spec,
        covariates,
        history,
    )
}

/// The spell outcome of `c`, if any (there is at most one).
fn spell_outcome(c: &AnalysisConfig) -> Option<&OutcomeConfig> {
    c.outcomes.iter().find(|o| o.kind == OutcomeKind::Spell)
}
