//! How times, durations and identifiers read in the console.

use std::time::Duration;

use crate::kms::Timestamp;

/// `2026-03-12 14:05 UTC`.
pub fn date_time(t: Timestamp) -> String {
    t.to_datetime().format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `2026-03-12 14:05:03 UTC`.
pub fn date_time_secs(t: Timestamp) -> String {
    t.to_datetime().format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `12 Mar 2026 14:05` (UTC).
pub fn day_time(t: Timestamp) -> String {
    t.to_datetime().format("%-d %b %Y %H:%M").to_string()
}

/// `12 Mar 2026`.
pub fn day(t: Timestamp) -> String {
    t.to_datetime().format("%-d %b %Y").to_string()
}

/// A compact duration: `45 s`, `12 min`, `5 h`, `3 days`, `4 months`, `2 years`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3_600 => format!("{} min", s / 60),
        3_600..86_400 => format!("{} h", s / 3_600),
        86_400..5_184_000 => plural(s / 86_400, "day"),
        5_184_000..63_072_000 => plural(s / 2_592_000, "month"),
        _ => plural(s / 31_536_000, "year"),
    }
}

/// `1 key`, `3 keys`.
pub fn plural(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// `in 3 days` / `3 days ago` / `now`, from `now`'s point of view.
pub fn relative(t: Timestamp, now: Timestamp) -> String {
    if t.millis().abs_diff(now.millis()) < 1_000 {
        return "now".into();
    }
    if t > now {
        format!("in {}", duration(t.since(now)))
    } else {
        format!("{} ago", duration(now.since(t)))
    }
}

/// `00:02:15` (elapsed times that tick).
pub fn clock_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 86_400 {
        format!(
            "{}d {:02}:{:02}:{:02}",
            s / 86_400,
            (s / 3600) % 24,
            (s / 60) % 60,
            s % 60
        )
    } else {
        format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    }
}

/// `$1`, `$3` ...
pub fn usd(n: u32) -> String {
    format!("${n}")
}

/// The first `n` characters and an ellipsis.
pub fn ellipsize(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// The lengths of key material a key of `spec` takes, in words: "32 bytes",
/// "32 to 64 bytes" (the engine's `KeySpec::material_lengths`).
pub fn material_lengths(spec: crate::kms::KeySpec) -> String {
    if spec.is_asymmetric() {
        return format!(
            "an {spec} private key, DER PKCS #8 (openssl pkcs8 -topk8 -outform der -nocrypt)"
        );
    }
    let r = spec.material_lengths();
    if r.start() == r.end() {
        format!("{} bytes", r.start())
    } else {
        format!("{} to {} bytes", r.start(), r.end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(Duration::from_secs(59)), "59 s");
        assert_eq!(duration(Duration::from_secs(3 * 86_400)), "3 days");
        assert_eq!(duration(Duration::from_secs(86_400)), "1 day");
        assert_eq!(duration(Duration::from_secs(90 * 86_400)), "3 months");
        let now = Timestamp::from_secs(1_000_000);
        assert_eq!(
            relative(Timestamp::from_secs(1_000_000 + 7200), now),
            "in 2 h"
        );
        assert_eq!(
            relative(Timestamp::from_secs(1_000_000 - 120), now),
            "2 min ago"
        );
        assert_eq!(clock_duration(Duration::from_secs(3725)), "01:02:05");
        assert_eq!(ellipsize("abcdef", 4), "abc…");
    }
}
