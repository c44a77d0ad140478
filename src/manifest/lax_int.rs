//! `priority` as Racetrack's pydantic model reads it (lax mode): an integer, an integer
//! written as a string (`"7"`), a float without fraction (`7.0`) or a boolean; anything
//! else is refused with the reason pydantic would give. Owns this coercion only; which
//! fields exist and what values are valid is `manifest.rs`'s.

use serde::de::{self, Deserializer, Visitor};
use std::fmt;

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    d.deserialize_any(LaxInt)
}

struct LaxInt;

impl<'de> Visitor<'de> for LaxInt {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom(format!("priority {v} is out of range")))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<i64, E> {
        Ok(i64::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        // i64's range as f64 bounds: beyond it the cast would saturate silently.
        if v.fract() == 0.0 && (-9.2e18..=9.2e18).contains(&v) {
            Ok(v as i64)
        } else {
            Err(E::custom(format!(
                "priority {v} is not a whole number; an integer is expected"
            )))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        let trimmed = v.trim();
        let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
        let parsed = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            trimmed.parse::<i64>().ok()
        } else {
            None
        };
        parsed.ok_or_else(|| {
            E::custom(format!(
                "priority {v:?} is not an integer (unable to parse string as an integer)"
            ))
        })
    }
}
