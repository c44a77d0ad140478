use chrono::{DateTime, Utc};

use super::output::{check_out_filename, zip_time};
use super::source_files::is_zip;

#[test]
fn zip_time_clamps() {
    let t = |s| DateTime::<Utc>::from_timestamp(s, 0).unwrap_or_default();
    assert_eq!(zip_time(t(0)), zip::DateTime::default());
    let d = zip_time(t(1_700_000_000)); // 2023-11-14T22:13:20Z
    assert_eq!(
        (
            d.year(),
            d.month(),
            d.day(),
            d.hour(),
            d.minute(),
            d.second()
        ),
        (2023, 11, 14, 22, 13, 20)
    );
    let far = zip_time(t(10_000_000_000)); // year 2286
    assert_eq!(far.year(), 2107);
}

#[test]
fn out_filename_must_be_a_name() {
    assert!(check_out_filename("a.zip").is_ok());
    for bad in ["", ".", "..", "a/b.zip", "..\\x.zip"] {
        assert!(check_out_filename(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn zip_names() {
    assert!(is_zip("a/b/x.zip"));
    assert!(is_zip("X.ZIP"));
    assert!(!is_zip("zip.py"));
}
