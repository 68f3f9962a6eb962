//! Types every part of execgate shares, so that a size, a duration, a severity
//! or a file error means the same thing in config, rule files and APIs.

#![forbid(unsafe_code)]

pub mod client;
pub mod clock;
pub mod encoding;
pub mod file_error;
pub mod file_name;
pub mod severity;
pub mod units;

pub use client::{ClientKey, TierName};
pub use clock::{Clock, ManualClock, SystemClock};
pub use encoding::Encoding;
pub use file_error::{FileError, load_toml};
pub use file_name::{FileNameError, check_file_name};
pub use severity::{Action, Severity};
pub use units::{ByteSize, HumanDuration};
pub mod live;
pub use live::Live;
