//! The inputs: the person table, the code table, the register's columns,
//! the event log and the staff survey, read from CSV, Parquet or a frame.

pub(crate) mod cell;
pub mod codes;
mod csv;
mod events;
pub(crate) mod format;
pub(crate) mod labels;
pub(crate) mod or_false;
mod parquet;
mod persons;
pub(crate) mod reading;
mod register;
pub(crate) mod source;
mod survey;
pub(crate) mod table;

pub use crate::progress::LoadProgress;
pub use codes::{Category, CodeTable};
pub use events::{EventLog, EventSpec};
pub use persons::{Arm, Covariate, CovariateValues, Groups, PersonSpec, Persons};
pub use register::{LongColumns, WideColumns};
pub use survey::{Survey, SurveyJoin, SurveySpec};

pub(crate) use survey::Answer;
