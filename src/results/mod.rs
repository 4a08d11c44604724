//! The result types of an analysis ([`Results`] and its parts), as
//! `results.json` holds them; computed by
//! [`Analysis::run`](crate::analysis::Analysis::run), rendered by
//! [`report`](crate::report).

use serde::Serialize;

use crate::config::{AnalysisConfig, OutcomeConfig, Unit};
use crate::error::Result;
use crate::estimators::Balance;
use crate::estimators::CostEffects;
use crate::estimators::FamilyTest;
use crate::estimators::Fidelity;
use crate::estimators::HoursDistribution;
use crate::estimators::ProcessTable;
use crate::estimators::SiteCorrelation;
use crate::estimators::{self, TimeToSpell};
use crate::estimators::{GroupEffects, RandomisationTest, SignificantWeeks, WeeklyEffects};
use crate::inputs::{Arm, Persons};
use crate::outcome::{SpellClock, SpellRule};
use crate::panel::{AtRisk, LoadReport};
use crate::stats::{self, ChiSquare, Estimate, Level};
use crate::weeks::Week;

/// Everything an analysis computes; serialised whole as `results.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Results {
    /// The report's title.
    pub title: String,
    /// trialpanel version that computed the results.
    pub version: &'static str,
    /// The settings the results were computed with.
    pub config: AnalysisConfig,
    /// Weeks of the snapshot tables.
    pub snapshot: Vec<i32>,
    /// The week of the details shown at one week (the randomisation test's
    /// p at a week, sites, subgroups): `[weeks] significant_through` when
    /// set, else the last snapshot week.
    pub detail_week: i32,
    /// Persons, blocks, referral and follow-up.
    pub trial: TrialSummary,
    /// One entry per outcome, in the order of the analysis file.
    pub outcomes: Vec<OutcomeResults>,
    /// The `[[families]]` tests: Westfall–Young and Holm within each.
    pub families: Vec<FamilyTest>,
    /// The `[[process]]` indicators' shares per site and arm.
    pub process: Vec<ProcessTable>,
    /// The event log as read, with `[inputs] events`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<EventLogSummary>,
    /// Survey fidelity, with `[inputs] survey`.
    pub fidelity: Option<Fidelity>,
    /// The cost per effect, with `[cost]`.
    pub cost: Option<CostEffects>,
    /// The `[[correlations]]` across sites.
    pub correlations: Vec<SiteCorrelation>,
    /// Time to a completed spell, when an outcome is a spell.
    pub spell: Option<SpellResults>,
    /// Hours descriptives, when an outcome is `hours` or `employed`.
    pub hours: Option<HoursResults>,
    /// The balance table and the joint test.
    pub balance: Balance,
    /// What the analysis assumed that may be wrong (e.g. observed weeks
    /// without any register row); `trialpanel run` prints them on stderr
    /// and report.md in its design section.
    pub warnings: Vec<String>,
    /// The input files read, as opened: [`Results::write`] never writes
    /// over one of them.
    #[serde(skip)]
    pub inputs: Vec<std::path::PathBuf>,
}

/// The trial's design as the data show it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrialSummary {
    /// Persons per arm.
    pub persons: ArmCounts,
    /// Persons per arm in each block (one `all` block when there are none).
    pub blocks: Vec<BlockCount>,
    /// Earliest and latest referral week.
    pub referral_first: Week,
    /// Latest referral week.
    pub referral_last: Week,
    /// First week the register covers.
    pub observed_from: Week,
    /// Last week the register covers (the extract).
    pub observed_until: Week,
    /// Weeks followed after referral (`observed_until − referral`) per arm.
    pub follow_up: Vec<FollowUp>,
    /// Persons followed at each estimated week.
    pub at_risk: Vec<AtRisk>,
    /// Register rows read and ignored.
    pub load: LoadReport,
    /// Persons whose follow-up ended early (a category that ends follow-up,
    /// such as death or emigration) and the tests that it did not differ by
    /// arm; `None` when no category ends follow-up.
    pub followup_ended: Option<FollowupEnded>,
    /// Clusters per arm (persons' distinct cluster labels), when the person
    /// table has a cluster column: every standard error is then CR2.
    pub clusters: Option<ArmCounts>,
    /// Parts of the persons the register was read in: 1 when the panel fit
    /// the memory budget, else more (see [`Analysis::run_with_progress`](crate::analysis::Analysis::run_with_progress)).
    pub parts: usize,
}

/// The event log as read: the weeks it covers and what it left out.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventLogSummary {
    /// Events used.
    pub events: usize,
    /// First week the log covers (`[events] from`, or its first event's).
    pub first_week: Week,
    /// Last week the log covers (`[events] until`, or its last event's).
    pub last_week: Week,
    /// Events dated outside those weeks, left out.
    pub outside: usize,
    /// Events dated before their person's referral week: they count for no
    /// indicator.
    pub before_referral: usize,
    /// Persons referred before the log's first week: the event-log rules do
    /// not judge them (the log does not cover the start of their
    /// follow-up).
    pub not_covered: usize,
}

/// A count per arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ArmCounts {
    /// Treatment arm.
    pub treatment: usize,
    /// Control arm.
    pub control: usize,
}

/// Persons per arm in one block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BlockCount {
    /// Block label.
    pub block: String,
    /// Persons per arm.
    pub persons: ArmCounts,
}

/// Distribution of follow-up in one arm, in weeks after referral.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FollowUp {
    /// The arm.
    pub arm: Arm,
    /// Shortest follow-up.
    pub min: i32,
    /// Median follow-up (mean of the two middle values for an even count).
    pub median: f64,
    /// Longest follow-up.
    pub max: i32,
}

impl TrialSummary {
    pub(crate) fn of(
        persons: &Persons,
        observed: (Week, Week),
        at_risk: Vec<AtRisk>,
        load: LoadReport,
        parts: usize,
    ) -> TrialSummary {
        let arms = persons.arms();
        let blocks = persons.blocks();
        let mut per_block = vec![[0usize; 2]; blocks.labels.len()];
        for (&b, &arm) in blocks.index.iter().zip(arms) {
            per_block[b as usize][arm as usize] += 1;
        }
        let counts = |c: [usize; 2]| ArmCounts {
            treatment: c[Arm::Treatment as usize],
            control: c[Arm::Control as usize],
        };
        let (from, until) = observed;
        let referral = persons.referral_weeks();
        let follow_up = Arm::BOTH
            .iter()
            .rev()
            .filter_map(|&arm| {
                let mut weeks: Vec<i32> = (0..persons.len())
                    .filter(|&p| arms[p] == arm)
                    .map(|p| until.event_week(referral[p]))
                    .collect();
                weeks.sort_unstable();
                let n = weeks.len();
                let median = match n {
                    0 => return None,
                    _ if n % 2 == 1 => f64::from(weeks[n / 2]),
                    _ => (f64::from(weeks[n / 2 - 1]) + f64::from(weeks[n / 2])) / 2.0,
                };
                Some(FollowUp {
                    arm,
                    min: weeks[0],
                    median,
                    max: weeks[n - 1],
                })
            })
            .collect();
        TrialSummary {
            persons: counts(
                per_block
                    .iter()
                    .fold([0, 0], |a, c| [a[0] + c[0], a[1] + c[1]]),
            ),
            blocks: blocks
                .labels
                .iter()
                .zip(&per_block)
                .map(|(label, &c)| BlockCount {
                    block: label.clone(),
                    persons: counts(c),
                })
                .collect(),
            referral_first: referral.iter().min().copied().unwrap_or(until),
            referral_last: referral.iter().max().copied().unwrap_or(until),
            observed_from: from,
            observed_until: until,
            follow_up,
            at_risk,
            load,
            followup_ended: None,
            clusters: persons.clusters().map(|c| {
                let mut seen = vec![None; c.labels.len()];
                for (&g, &arm) in c.index.iter().zip(arms) {
                    seen[g as usize] = Some(arm);
                }
                let n = |arm| seen.iter().filter(|a| **a == Some(arm)).count();
                ArmCounts {
                    treatment: n(Arm::Treatment),
                    control: n(Arm::Control),
                }
            }),
            parts,
        }
    }
}

/// Results for one outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutcomeResults {
    /// What one unit of the outcome is.
    pub unit: Unit,
    /// Weekly effects (with the band when asked for).
    pub effects: WeeklyEffects,
    /// The Lin covariate-adjusted weekly effects, with `[design] adjust`.
    pub adjusted: Option<WeeklyEffects>,
    /// Where the effect is significant.
    pub significant: Significant,
    /// Randomisation test, when asked for.
    pub randomisation: Option<RandomisationTest>,
    /// Per-site effects and heterogeneity, when asked for.
    pub sites: Option<GroupEffects>,
    /// Per-level effects of each `subgroups` covariate, with the
    /// interaction tests.
    pub subgroups: Vec<GroupEffects>,
}

/// Where an outcome's effect is significant at α = 1 − the design's level
/// (so that a week is significant exactly when its interval excludes 0),
/// by each criterion.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Significant {
    /// α.
    pub alpha: f64,
    /// Pointwise p < α.
    pub pointwise: SignificantWeeks,
    /// Holm-adjusted p < α across weeks.
    pub holm: SignificantWeeks,
    /// Benjamini–Hochberg-adjusted p < α across weeks.
    pub benjamini_hochberg: SignificantWeeks,
    /// The simultaneous band excludes 0 (when a band was computed).
    pub band: Option<SignificantWeeks>,
    /// With `[weeks] significant_through` = T: the first week from which
    /// every tested week through T is significant pointwise (`None`: no
    /// such week), as [`WeeklyEffects::significant_from`].
    pub from: Option<SignificantFrom>,
}

/// "Significant from week k through week T", pointwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SignificantFrom {
    /// T, `[weeks] significant_through`.
    pub through: i32,
    /// k.
    pub from: Option<i32>,
}

/// Time to a completed spell.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpellResults {
    /// Name of the spell outcome.
    pub outcome: String,
    /// The rule.
    pub rule: SpellRule,
    /// Persons in the analysis per arm (observed at the rule's first week).
    pub persons: ArmCounts,
    /// Persons who completed a spell while followed, per arm.
    pub completed: ArmCounts,
    /// Persons left out (not observed at the rule's first week).
    pub left_out: usize,
    /// Kaplan–Meier curves, difference and log-rank test.
    pub km: TimeToSpell,
}

impl SpellResults {
    pub(crate) fn of(
        clock: SpellClock,
        spec: &OutcomeConfig,
        level: Level,
    ) -> Result<SpellResults> {
        let km = estimators::time_to_spell_of(&clock, level)?;
        let (treatment, control) = (clock.counts(Arm::Treatment), clock.counts(Arm::Control));
        Ok(SpellResults {
            outcome: spec.display_name(),
            persons: ArmCounts {
                treatment: treatment.0,
                control: control.0,
            },
            completed: ArmCounts {
                treatment: treatment.1,
                control: control.1,
            },
            left_out: clock.left_out,
            rule: spec.spell_rule(),
            km,
        })
    }
}

/// Hours descriptives at one week.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HoursResults {
    /// Event week.
    pub week: i32,
    /// Mean hours of those working (hours > 0), by arm, Welch test.
    pub among_working: Estimate,
    /// Distribution of positive hours over buckets, chi-square test.
    pub distribution: HoursDistribution,
}

/// One person's follow-up for the tests of [`FollowupEnded`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct EndedFollowup {
    pub arm: Arm,
    /// The event week follow-up ended, or its administrative end.
    pub time: i32,
    /// Whether it ended early.
    pub ended: bool,
    /// The administrative end: the extract week − referral.
    pub admin: i32,
}

/// Follow-up that ended early (methods §10), per arm, and tests that it did
/// not differ by arm.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FollowupEnded {
    /// Persons whose follow-up ended early.
    pub persons: ArmCounts,
    /// Log-rank test of the time to the end of follow-up (an early end is
    /// the event, the extract censors).
    pub log_rank: Option<ChiSquare>,
    /// At each snapshot week k, among the persons the extract follows to k:
    /// those whose follow-up ended by k, and Pearson's chi-square of ended ×
    /// arm.
    pub by_week: Vec<EndedBy>,
}

/// Early ends of follow-up by one week.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EndedBy {
    /// Event week.
    pub week: i32,
    /// Persons the extract follows to this week.
    pub followed: ArmCounts,
    /// Of those, persons whose follow-up ended by this week.
    pub ended: ArmCounts,
    /// Chi-square of ended × arm (`None` when undefined).
    pub test: Option<ChiSquare>,
}

impl TrialSummary {
    /// With the early ends of follow-up of `ended` (every person), tested
    /// at the `snapshot` weeks.
    pub(crate) fn with_followup_ended(
        mut self,
        ended: Option<&[EndedFollowup]>,
        snapshot: &[i32],
    ) -> TrialSummary {
        let Some(ended) = ended else { return self };
        let counts = |f: &dyn Fn(&EndedFollowup) -> bool| {
            let n = |arm| ended.iter().filter(|e| e.arm == arm && f(e)).count();
            ArmCounts {
                treatment: n(Arm::Treatment),
                control: n(Arm::Control),
            }
        };
        let times = |arm| -> Vec<(i32, bool)> {
            ended
                .iter()
                .filter(|e| e.arm == arm)
                .map(|e| (e.time, e.ended))
                .collect()
        };
        let by_week = snapshot
            .iter()
            .map(|&k| {
                let followed = counts(&|e| e.admin >= k);
                let by = counts(&|e| e.admin >= k && e.ended && e.time <= k);
                let table = vec![
                    vec![
                        by.treatment as f64,
                        (followed.treatment - by.treatment) as f64,
                    ],
                    vec![by.control as f64, (followed.control - by.control) as f64],
                ];
                EndedBy {
                    week: k,
                    followed,
                    ended: by,
                    test: stats::pearson_chi_square(&table),
                }
            })
            .collect();
        self.followup_ended = Some(FollowupEnded {
            persons: counts(&|e| e.ended),
            log_rank: stats::log_rank(&times(Arm::Treatment), &times(Arm::Control)),
            by_week,
        });
        self
    }
}
