//! Small pure statistics: moments, the difference in means (Welch/Neyman or
//! pooled, blocked, clustered), multiplicity adjustments, Pearson's
//! chi-square and Cochran's Q (methods §4, §6, §9, §10); Kaplan–Meier and
//! the log-rank test (methods §5); shares with Wilson intervals, their
//! changes, traffic lights, correlations across sites and Fieller ratios
//! (methods §11–§12).
//!
//! Every function takes plain numbers and returns plain numbers; nothing here
//! knows about panels or files. Undefined results are `None`, never a made-up
//! number and never a panic.

mod chi_square;
mod correlation;
mod difference;
mod distributions;
mod estimate;
mod fieller;
mod level;
mod linalg;
mod moments;
mod multiplicity;
mod shares;
mod survival;
mod wald;

pub use chi_square::{ChiSquare, cochran_q, pearson_chi_square};
pub use correlation::{Correlation, correlation};
pub use difference::{
    Blocked, blocked_clustered_difference_in_means, blocked_difference_in_means,
    clustered_difference_in_means, difference_in_means,
};
pub use estimate::{Estimate, MDE_POWER, mde};
pub use fieller::{Fieller, fieller};
pub use level::{Level, MAX_LEVEL};
pub use moments::{Moments, Variance};
pub use multiplicity::{benjamini_hochberg, holm, westfall_young};
pub use shares::{Light, Share, Thresholds, mover, newcombe, ratio_share, wilson};
pub use survival::{KaplanMeierRow, kaplan_meier, log_rank};
pub use wald::WaldTest;

pub(crate) use difference::{describe, merged};
pub(crate) use distributions::{f_sf, normal_quantile, normal_two_sided_p, t_quantile};
pub(crate) use estimate::infer;
pub(crate) use linalg::{LeastSquares, cholesky, cholesky_scaled, least_squares};
pub(crate) use moments::CellArms;
pub(crate) use multiplicity::as_extreme;
pub(crate) use wald::{ClusterCell, htz_test};
