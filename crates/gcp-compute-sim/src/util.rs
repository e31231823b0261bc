//! Small helpers with no home of their own: RFC3339 time, a tiny PRNG,
//! name and UUID checks.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::ApiError;

/// Formats a time as RFC3339 with milliseconds in UTC
/// (`2026-01-02T03:04:05.678+00:00`); Compute uses this shape (with its
/// own Pacific offset), so clients must parse offsets anyway.
pub fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let millis = since.subsec_millis();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}+00:00", rem / 3600, (rem % 3600) / 60, rem % 60)
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// SplitMix64: tiny, fast and good enough for reproducible fault injection
/// and ids without a `rand` dependency.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A float in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        // 53 random bits are exactly representable in an f64 mantissa.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// RFC1035 names as Compute checks them: `[a-z]([-a-z0-9]*[a-z0-9])?`, 1–63 chars.
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    let Some((&first, rest)) = b.split_first() else {
        return false;
    };
    if b.len() > 63 || !first.is_ascii_lowercase() {
        return false;
    }
    let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-';
    rest.iter().all(ok) && rest.last().is_none_or(|c| *c != b'-')
}

/// The regex Compute quotes when a name is refused.
pub const NAME_REGEX: &str = "(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)";

/// Checks a resource name from a body (`field` as Compute names it, e.g.
/// `resource.name`) and returns it.
pub fn check_name(name: Option<&str>, field: &str) -> Result<String, ApiError> {
    let name = name.filter(|n| !n.is_empty()).ok_or_else(|| ApiError::required(field))?;
    if !valid_name(name) {
        return Err(ApiError::invalid_field(field, name, &format!("Must be a match of regex '{NAME_REGEX}'")));
    }
    Ok(name.to_string())
}

/// `requestId` must be a UUID (not the zero UUID), as Compute requires.
pub fn valid_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    groups.len() == 5
        && groups.iter().zip(lens).all(|(g, n)| g.len() == n && g.bytes().all(|c| c.is_ascii_hexdigit()))
        && s.bytes().any(|c| c.is_ascii_hexdigit() && c != b'0')
}

/// FNV-1a, for stable names of system-generated routes.
pub fn fnv64(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_epoch_and_leap_day() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000+00:00");
        let t = UNIX_EPOCH + Duration::from_millis(1_709_210_096_789);
        assert_eq!(rfc3339(t), "2024-02-29T12:34:56.789+00:00");
    }

    #[test]
    fn checks_names_like_compute() {
        assert!(valid_name("a"));
        assert!(valid_name("net-1"));
        assert!(!valid_name("1net"));
        assert!(!valid_name("net-"));
        assert!(!valid_name("Net"));
        assert!(!valid_name(&"a".repeat(64)));
    }

    #[test]
    fn checks_uuids() {
        assert!(valid_uuid("123e4567-e89b-12d3-a456-426614174000"));
        assert!(!valid_uuid("00000000-0000-0000-0000-000000000000"));
        assert!(!valid_uuid("not-a-uuid"));
    }
}
