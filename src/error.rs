//! The one error type of the crate ([`Error`], with [`ErrorKind`] for
//! matching): every problem of the inputs names the file, row, column and
//! value, with at most a short excerpt of the data.

use std::path::PathBuf;

use crate::excerpt::{VALUE_CHARS, excerpt};
use crate::weeks::{Week, WeekError};

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in trialpanel: the one error type of the
/// crate.
///
/// Every variant that comes from user data names the file, the row and column
/// where that makes sense, and the offending value, so that an analyst can fix
/// the input without a debugger. Rows are counted from 1 over *data* rows: in
/// a CSV file with a header, row 1 is the second line of the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or read from disk.
    #[error("{file}: cannot read file: {source}")]
    Io {
        /// The file (or an in-memory frame's label).
        file: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The file extension is neither `.csv` nor `.parquet`.
    #[error("{file}: unsupported file type; expected a .csv or .parquet file")]
    UnsupportedFormat {
        /// The file (or an in-memory frame's label).
        file: PathBuf,
    },

    /// The CSV or Parquet parser rejected the file (malformed CSV, invalid
    /// UTF-8, corrupt Parquet, ...). `message` is the parser's own message.
    #[error("{file}: cannot parse as {format}: {}", excerpt(.message, MESSAGE_CHARS))]
    Parse {
        /// The file (or an in-memory frame's label).
        file: PathBuf,
        /// `CSV` or `Parquet`.
        format: &'static str,
        /// The underlying message.
        message: String,
    },

    /// The file has no data rows.
    #[error("{file}: the file has no data rows")]
    Empty {
        /// The file (or an in-memory frame's label).
        file: PathBuf,
    },

    /// A required column is absent. `found` lists the columns that are there.
    #[error("{file}: missing column `{column}` (columns found: {})", excerpt(.found, MESSAGE_CHARS))]
    MissingColumn {
        /// The file (or an in-memory frame's label).
        file: PathBuf,
        /// The column's name.
        column: String,
        /// The columns the file has.
        found: String,
    },

    /// A column has a type that cannot hold what it should (e.g. a list
    /// column in Parquet where a week is expected).
    #[error("{file}: column `{column}` has unsupported type {dtype}")]
    ColumnType {
        /// The file (or an in-memory frame's label).
        file: PathBuf,
        /// The column's name.
        column: String,
        /// The column's type.
        dtype: String,
    },

    /// A cell holds a value that cannot be used: `problem` says why.
    #[error("{file}: row {row}, column `{column}`: {problem}: `{}`", excerpt(.value, VALUE_CHARS))]
    InvalidValue {
        /// The file (or an in-memory frame's label).
        file: PathBuf,
        /// Data row, 1 for the first row after the header.
        row: usize,
        /// The column's name.
        column: String,
        /// The offending value, as written.
        value: String,
        /// What is wrong with the value.
        problem: String,
    },

    /// A cell that must not be empty is empty.
    #[error("{file}: row {row}, column `{column}`: value is missing")]
    MissingValue {
        /// The file (or an in-memory frame's label).
        file: PathBuf,
        /// Data row, 1 for the first row after the header.
        row: usize,
        /// The column's name.
        column: String,
    },

    /// An arm label other than the two configured ones.
    #[error(
        "{file}: row {row}, column `{column}`: unknown arm label `{}` (expected {expected})",
        excerpt(.value, VALUE_CHARS)
    )]
    UnknownArm {
        /// The file (or an in-memory frame's label).
        file: PathBuf,
        /// Data row, 1 for the first row after the header.
        row: usize,
        /// The column's name.
        column: String,
        /// The offending value, as written.
        value: String,
        /// The configured labels, e.g. `` `treatment` or `control` ``.
        expected: String,
    },

    /// The same person id appears twice in the person table.
    #[error("{file}: row {row}: person `{}` already appeared in row {first_row}", excerpt(.id, VALUE_CHARS))]
    DuplicatePerson {
        /// The file (or an in-memory frame's label).
        file: PathBuf,
        /// Data row, 1 for the first row after the header.
        row: usize,
        /// The data row where it first appeared.
        first_row: usize,
        /// The person id, as written.
        id: String,
    },

    /// The same person and week appear twice in a long register.
    #[error("{file}: row {row}: person `{}` already has a row for week {week}", excerpt(.id, VALUE_CHARS))]
    DuplicatePersonWeek {
        /// The file (or an in-memory frame's label).
        file: PathBuf,
        /// Data row, 1 for the first row after the header.
        row: usize,
        /// The person id, as written.
        id: String,
        /// The week, as written.
        week: String,
    },

    /// Register rows for persons that are not in the person table.
    #[error(
        "{file}: {rows} register row(s) for {persons} person(s) not in the person table \
         (first: row {first_row}, person `{}`){hint}; \
         set `ignore_unknown_persons` to skip them",
        excerpt(.first_id, VALUE_CHARS)
    )]
    UnknownPersons {
        /// The file (or an in-memory frame's label).
        file: PathBuf,
        /// Register rows of such persons.
        rows: usize,
        /// Distinct such persons.
        persons: usize,
        /// The data row where it first appeared.
        first_row: usize,
        /// The first such id, as written.
        first_id: String,
        /// How the first unknown id nearly matches a person (leading zeros,
        /// letter case), or empty.
        hint: String,
    },

    /// More register rows for unknown persons than
    /// [`PanelBuilder::max_unknown_share`](crate::PanelBuilder::max_unknown_share)
    /// allows to skip: the two files' ids most likely do not match.
    #[error(
        "{file}: {rows} of {total} register rows ({percent:.1}%) are for {persons} person(s) \
         not in the person table (first: row {first_row}, person `{}`{hint}), more than the \
         {max_percent}% that `max_unknown_share` lets `ignore_unknown_persons` skip; check that \
         the ids of the two files are written alike (leading zeros, letter case, text or integer)",
        excerpt(.first_id, VALUE_CHARS)
    )]
    TooManyUnknownPersons {
        /// The file (or an in-memory frame's label).
        file: PathBuf,
        /// Register rows of such persons.
        rows: usize,
        /// All register rows read.
        total: usize,
        /// `rows` as a percentage of `total`.
        percent: f64,
        /// The most `max_unknown_share` allows, in percent.
        max_percent: f64,
        /// Distinct such persons.
        persons: usize,
        /// The data row where it first appeared.
        first_row: usize,
        /// The first such id, as written.
        first_id: String,
        /// As in [`Error::UnknownPersons`].
        hint: String,
    },

    /// Two inputs joined by a label (survey sites and the trial's sites,
    /// invited counts and the survey) do not match: a label nearly matches
    /// one of the other input's (a case, a space, an abbreviation: a typo),
    /// or more than 5% of the rows fall out.
    #[error(
        "{file}: {rows} of {total} rows have a `{column}` that {other} lacks: {labels}; fix \
         the labels so that the two inputs name their sites alike"
    )]
    UnmatchedLabels {
        /// The file (or an in-memory frame's label).
        file: PathBuf,
        /// The column of the label.
        column: String,
        /// The input it is joined to, e.g. `the person table`.
        other: String,
        /// The unmatched labels with their rows and near matches (capped).
        labels: String,
        /// Rows with an unmatched label.
        rows: usize,
        /// All rows.
        total: usize,
    },

    /// Two columns of a CSV file have the same name.
    #[error("{file}: columns {first} and {second} are both named `{column}`; rename one")]
    DuplicateColumn {
        /// The file (or an in-memory frame's label).
        file: PathBuf,
        /// The column's name.
        column: String,
        /// Position of the first column of that name (1-based).
        first: usize,
        /// Position of the second column of that name (1-based).
        second: usize,
    },

    /// Benefit codes that the code table does not map, with their counts.
    #[error(
        "{file}: {} code(s) missing from the code table: {}; \
         add them to the code table or set a fallback category",
        .codes.len(),
        format_code_counts(.codes)
    )]
    UnmappedCodes {
        /// The file (or an in-memory frame's label).
        file: PathBuf,
        /// Each unmapped code and its number of rows.
        codes: Vec<(String, usize)>,
    },

    /// The code table maps the same code twice.
    #[error("{file}: row {row}: code `{}` already mapped in row {first_row}", excerpt(.code, VALUE_CHARS))]
    DuplicateCode {
        /// The file (or an in-memory frame's label).
        file: PathBuf,
        /// Data row, 1 for the first row after the header.
        row: usize,
        /// The data row where it first appeared.
        first_row: usize,
        /// The code, as written.
        code: String,
    },

    /// A cluster whose persons are in both arms, or in two blocks: clusters
    /// are the units of randomisation, so each lies in one arm and one block.
    #[error(
        "{file}: row {row}, column `{column}`: cluster `{}` has persons in {} ({seen}); \
         a cluster is randomised as a whole",
        excerpt(.cluster, VALUE_CHARS),
        if *.across_arms { "both arms" } else { "two blocks" }
    )]
    ClusterSpans {
        /// The file (or an in-memory frame's label).
        file: PathBuf,
        /// The first data row (1 for the first row after the header) whose
        /// arm or block differs from the cluster's first row.
        row: usize,
        /// The cluster column's name.
        column: String,
        /// The cluster label.
        cluster: String,
        /// `true`: the cluster has persons in both arms; `false`: in two
        /// blocks.
        across_arms: bool,
        /// Both rows' arms or blocks, the first being the cluster's first
        /// row, e.g. `` arm `T` in row 1, arm `C` in row 4 ``.
        seen: String,
    },

    /// One arm has no persons.
    #[error("{file}: no persons in the {arm} arm (label `{label}`)")]
    EmptyArm {
        /// The file (or an in-memory frame's label).
        file: PathBuf,
        /// `treatment` or `control`.
        arm: &'static str,
        /// The arm's configured label.
        label: String,
    },

    /// A referral week that the register does not cover.
    #[error(
        "{file}: row {row}: person `{}` has referral week {referral}, \
         outside the register's observed weeks {from} to {until}",
        excerpt(.id, VALUE_CHARS)
    )]
    ReferralOutsideRegister {
        /// The file (or an in-memory frame's label).
        file: PathBuf,
        /// Data row, 1 for the first row after the header.
        row: usize,
        /// The person id, as written.
        id: String,
        /// The person's referral week.
        referral: Week,
        /// First observed week of the register.
        from: Week,
        /// Last observed week of the register.
        until: Week,
    },

    /// A string that is not a valid ISO week (outside of any file).
    #[error("invalid week `{}`: {reason}", excerpt(.value, VALUE_CHARS))]
    InvalidWeek {
        /// The offending value, as written.
        value: String,
        /// Why it cannot be used.
        reason: String,
    },

    /// The analysis file (TOML) has a syntax error, an unknown key, or a
    /// value of the wrong type or one that cannot work. `key` is the dotted
    /// path of the key (`outcomes[2].threshold`); `line` is given when the
    /// problem is at a known place in the file.
    #[error("{file}: {}key `{key}`: {message}", line.map(|l| format!("line {l}, ")).unwrap_or_default())]
    AnalysisFile {
        /// The file (or an in-memory frame's label).
        file: PathBuf,
        /// Line of the analysis file, when known.
        line: Option<usize>,
        /// Dotted path of the key.
        key: String,
        /// The underlying message.
        message: String,
    },

    /// An option or argument with a value that cannot work.
    #[error("invalid setting `{name}`: {reason}")]
    InvalidSetting {
        /// The setting.
        name: String,
        /// Why it cannot be used.
        reason: String,
    },

    /// The data would need more memory than the memory budget allows.
    #[error(
        "{what} needs {} of memory, more than the memory budget of {}; \
         raise `memory_budget_gb` in the analysis file's [inputs] \
         (PanelBuilder::memory_budget in Rust) or analyse fewer persons or weeks",
        megabytes(*.needed),
        megabytes(*.budget)
    )]
    MemoryBudget {
        /// What needs the memory.
        what: String,
        /// Bytes it needs.
        needed: u64,
        /// Bytes the budget allows.
        budget: u64,
    },

    /// Something the inputs and settings cannot cause: a result table that
    /// cannot be built or serialised. A bug in trialpanel; please report it
    /// with the message.
    #[error("internal error in {what}: {message} (a bug in trialpanel; please report it)")]
    Internal {
        /// What was being built.
        what: String,
        /// The underlying message.
        message: String,
    },

    /// The data exceed a limit of trialpanel (more than 2³² events in an
    /// event log, say).
    #[error("{what}: more than trialpanel handles ({limit})")]
    Limit {
        /// What exceeds the limit.
        what: String,
        /// The limit.
        limit: String,
    },

    /// Writing an output failed.
    #[error("{file}: cannot write: {message}")]
    Write {
        /// The file (or an in-memory frame's label).
        file: PathBuf,
        /// The underlying message.
        message: String,
    },
}

fn megabytes(bytes: u64) -> String {
    format!("{:.0} MB", (bytes as f64 / 1e6).ceil())
}

fn format_code_counts(codes: &[(String, usize)]) -> String {
    let mut list = codes
        .iter()
        .take(LISTED_CODES)
        .map(|(code, n)| format!("`{}` ({n} rows)", excerpt(code, VALUE_CHARS)))
        .collect::<Vec<_>>()
        .join(", ");
    if codes.len() > LISTED_CODES {
        list.push_str(&format!(" and {} more", codes.len() - LISTED_CODES));
    }
    list
}

/// Most characters of a parser's message (which may quote the file).
const MESSAGE_CHARS: usize = 300;
/// Most unmapped codes listed in an error message.
const LISTED_CODES: usize = 20;

/// The broad kind of an [`Error`], for matching without naming every
/// variant (as the `csv` crate's `ErrorKind`): what went wrong, and so
/// what has to change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file cannot be opened, read or written ([`Error::Io`],
    /// [`Error::Write`]).
    Io,
    /// A file is not a table trialpanel can read: its type, syntax,
    /// encoding or columns ([`Error::UnsupportedFormat`], [`Error::Parse`],
    /// [`Error::Empty`], [`Error::MissingColumn`], [`Error::ColumnType`],
    /// [`Error::DuplicateColumn`]).
    Format,
    /// A cell holds a value that cannot be used ([`Error::InvalidValue`],
    /// [`Error::MissingValue`], [`Error::UnknownArm`],
    /// [`Error::InvalidWeek`]).
    Value,
    /// Rows or files contradict each other ([`Error::DuplicatePerson`],
    /// [`Error::DuplicatePersonWeek`], [`Error::UnknownPersons`],
    /// [`Error::TooManyUnknownPersons`], [`Error::UnmappedCodes`],
    /// [`Error::DuplicateCode`], [`Error::UnmatchedLabels`], [`Error::ClusterSpans`],
    /// [`Error::EmptyArm`], [`Error::ReferralOutsideRegister`]).
    Inconsistent,
    /// A setting or argument cannot work: in the analysis file
    /// ([`Error::AnalysisFile`]) or given in Rust ([`Error::InvalidSetting`]).
    Setting,
    /// The data need more memory than the budget, or exceed a limit
    /// ([`Error::MemoryBudget`], [`Error::Limit`]).
    Limit,
    /// A bug in trialpanel ([`Error::Internal`]).
    Internal,
}

impl Error {
    /// The broad kind of this error.
    pub fn kind(&self) -> ErrorKind {
        use Error as E;
        match self {
            E::Io { .. } | E::Write { .. } => ErrorKind::Io,
            E::UnsupportedFormat { .. }
            | E::Parse { .. }
            | E::Empty { .. }
            | E::MissingColumn { .. }
            | E::ColumnType { .. }
            | E::DuplicateColumn { .. } => ErrorKind::Format,
            E::InvalidValue { .. }
            | E::MissingValue { .. }
            | E::UnknownArm { .. }
            | E::InvalidWeek { .. } => ErrorKind::Value,
            E::DuplicatePerson { .. }
            | E::DuplicatePersonWeek { .. }
            | E::UnknownPersons { .. }
            | E::TooManyUnknownPersons { .. }
            | E::UnmatchedLabels { .. }
            | E::UnmappedCodes { .. }
            | E::DuplicateCode { .. }
            | E::ClusterSpans { .. }
            | E::EmptyArm { .. }
            | E::ReferralOutsideRegister { .. } => ErrorKind::Inconsistent,
            E::AnalysisFile { .. } | E::InvalidSetting { .. } => ErrorKind::Setting,
            E::MemoryBudget { .. } | E::Limit { .. } => ErrorKind::Limit,
            E::Internal { .. } => ErrorKind::Internal,
        }
    }

    /// The input file the error is about, when it is about one (an
    /// in-memory frame's label stands for its file).
    pub fn file(&self) -> Option<&std::path::Path> {
        use Error as E;
        match self {
            E::Io { file, .. }
            | E::UnsupportedFormat { file }
            | E::Parse { file, .. }
            | E::Empty { file }
            | E::MissingColumn { file, .. }
            | E::ColumnType { file, .. }
            | E::InvalidValue { file, .. }
            | E::MissingValue { file, .. }
            | E::UnknownArm { file, .. }
            | E::DuplicatePerson { file, .. }
            | E::DuplicatePersonWeek { file, .. }
            | E::UnknownPersons { file, .. }
            | E::TooManyUnknownPersons { file, .. }
            | E::UnmatchedLabels { file, .. }
            | E::DuplicateColumn { file, .. }
            | E::UnmappedCodes { file, .. }
            | E::DuplicateCode { file, .. }
            | E::ClusterSpans { file, .. }
            | E::EmptyArm { file, .. }
            | E::ReferralOutsideRegister { file, .. }
            | E::AnalysisFile { file, .. }
            | E::Write { file, .. } => Some(file),
            E::InvalidWeek { .. }
            | E::InvalidSetting { .. }
            | E::MemoryBudget { .. }
            | E::Limit { .. }
            | E::Internal { .. } => None,
        }
    }

    /// The data row (1 for the first row after the header) the error is
    /// about, when it names one.
    pub fn row(&self) -> Option<usize> {
        use Error as E;
        match self {
            E::InvalidValue { row, .. }
            | E::MissingValue { row, .. }
            | E::UnknownArm { row, .. }
            | E::DuplicatePerson { row, .. }
            | E::DuplicatePersonWeek { row, .. }
            | E::ClusterSpans { row, .. }
            | E::ReferralOutsideRegister { row, .. } => Some(*row),
            E::UnknownPersons { first_row, .. } | E::TooManyUnknownPersons { first_row, .. } => {
                Some(*first_row)
            }
            _ => None,
        }
    }

    /// The column the error is about, when it names one.
    pub fn column(&self) -> Option<&str> {
        use Error as E;
        match self {
            E::MissingColumn { column, .. }
            | E::ColumnType { column, .. }
            | E::InvalidValue { column, .. }
            | E::MissingValue { column, .. }
            | E::UnknownArm { column, .. }
            | E::DuplicateColumn { column, .. }
            | E::UnmatchedLabels { column, .. }
            | E::ClusterSpans { column, .. } => Some(column),
            _ => None,
        }
    }
}

impl From<WeekError> for Error {
    fn from(e: WeekError) -> Error {
        Error::InvalidWeek {
            value: e.value,
            reason: e.reason,
        }
    }
}
