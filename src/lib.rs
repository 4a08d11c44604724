//! # trialpanel
//!
//! Weekly registers of a randomised employment trial → the numbers an
//! evaluation report stands on.
//!
//! Analysts of labour-market trials (JobFirst, Jobrettet Samtale and the
//! like) start from three inputs:
//!
//! * a **person table**: who was randomised, to which arm, in which week
//!   (the *referral week*) and where (the block, e.g. the municipality);
//! * a **weekly register** of the DREAM type: one benefit code and the
//!   ordinary hours worked per person and calendar week, in long form
//!   (`person_id, week, code, hours`) or DREAM-wide form (`y_YYWW` columns);
//! * a **code table** mapping each benefit code to a category such as work
//!   placement or wage subsidy.
//!
//! trialpanel validates them and aligns every person's weeks on the week
//! they were drawn: a [`Panel`] of event weeks k = calendar week − referral
//! week, censored at the end of the register (late referrals are followed
//! for fewer weeks). Everything downstream works on that panel.
//!
//! ## Example
//!
//! ```no_run
//! use trialpanel::{CodeTable, LongColumns, Panel, PersonSpec, Persons};
//!
//! let persons = Persons::read(
//!     "data-samples/jobfirst/persons.csv",
//!     &PersonSpec::default().block_column("municipality"),
//! )?;
//! let codes = CodeTable::read("data-samples/jobfirst/codes.csv")?;
//! let panel = Panel::builder(&persons, &codes)
//!     .long_file("data-samples/jobfirst/register_long.parquet", &LongColumns::default())?;
//! for r in panel.at_risk_all().iter().filter(|r| r.week >= 0) {
//!     println!("week {:>3}: {} treated, {} controls", r.week, r.treatment, r.control);
//! }
//! # Ok::<(), trialpanel::Error>(())
//! ```
//!
//! ## Modules
//!
//! * [`weeks`]: ISO 8601 weeks and event weeks;
//! * [`persons`], [`codes`], [`register`]: the three inputs and their readers;
//! * [`panel`]: the aligned person-week panel;
//! * [`simulate`]: a seeded simulator of DREAM-style trials (the bundled
//!   sample comes from it);
//! * [`error`]: the one error type, [`Error`].

pub mod codes;
pub mod error;
mod io;
pub mod panel;
pub mod persons;
pub mod register;
mod rng;
pub mod simulate;
pub mod weeks;

pub use codes::{Category, CodeTable};
pub use error::{Error, Result};
pub use panel::{AtRisk, Panel, PanelBuilder};
pub use persons::{Arm, PersonSpec, Persons};
pub use register::{LongColumns, WideColumns};
pub use weeks::Week;
