//! The simulated clock's instants: RFC 3339 timestamps and relative offsets like `+5m`.
//!
//! Instants are milliseconds since the Unix epoch, always in UTC; they are
//! written back in the form Cedar's `datetime()` extension accepts.

use std::fmt;

/// A point on the simulated clock, in milliseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(pub i64);

impl Instant {
    /// The earliest instant privsim accepts: the start of year 0000 (UTC). Cedar's
    /// `datetime()` needs a four-digit year, so times stay within 0000–9999.
    pub const MIN: Instant = Instant(-62_167_219_200_000);
    /// The latest instant privsim accepts: the last millisecond of year 9999 (UTC).
    pub const MAX: Instant = Instant(253_402_300_799_999);

    /// Parses an RFC 3339 timestamp such as `2026-06-01T09:00:00Z` or
    /// `2026-06-01T11:00:00+02:00` (fractional seconds up to milliseconds).
    pub fn parse_rfc3339(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not an RFC 3339 timestamp like `2026-06-01T09:00:00Z`");
        let b = text.as_bytes();
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || !(b[10] == b'T' || b[10] == b't')
            || b[13] != b':'
            || b[16] != b':'
        {
            return Err(bad());
        }
        let num = |range: std::ops::Range<usize>| -> Result<i64, String> {
            let part = text.get(range).ok_or_else(bad)?;
            if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            part.parse::<i64>().map_err(|_| bad())
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let mut rest = &text[19..];
        let mut millis = 0;
        if let Some(fraction) = rest.strip_prefix('.') {
            let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 3 {
                return Err(format!(
                    "`{text}`: fractional seconds must have 1 to 3 digits"
                ));
            }
            let scaled = format!("{:0<3}", &fraction[..digits]);
            millis = scaled.parse::<i64>().map_err(|_| bad())?;
            rest = &fraction[digits..];
        }
        let offset_minutes = match rest {
            "Z" | "z" => 0,
            _ => {
                let ob = rest.as_bytes();
                if ob.len() != 6 || !(ob[0] == b'+' || ob[0] == b'-') || ob[3] != b':' {
                    return Err(bad());
                }
                let hours: i64 = rest[1..3].parse().map_err(|_| bad())?;
                let minutes: i64 = rest[4..6].parse().map_err(|_| bad())?;
                if hours > 23 || minutes > 59 {
                    return Err(bad());
                }
                let sign = if ob[0] == b'-' { -1 } else { 1 };
                sign * (hours * 60 + minutes)
            }
        };
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return Err(format!("`{text}` is not a valid date and time"));
        }
        let days = days_from_civil(year, month, day);
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
        Instant(seconds * 1000 + millis)
            .checked_in_range()
            .ok_or_else(|| format!("`{text}` is outside the years 0000 to 9999 in UTC"))
    }

    /// This instant plus a duration in milliseconds, or `None` past [`Instant::MAX`].
    pub fn checked_add(self, millis: i64) -> Option<Self> {
        self.0
            .checked_add(millis)
            .map(Instant)
            .and_then(Instant::checked_in_range)
    }

    fn checked_in_range(self) -> Option<Self> {
        (Instant::MIN <= self && self <= Instant::MAX).then_some(self)
    }

    /// Whole seconds since the epoch (rounded down).
    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }
}

impl Instant {
    /// Writes `YYYY-MM-DDTHH:MM:SSZ`, with `.mmm` when there are milliseconds.
    ///
    /// Times are written often (every step of a log's scenario, every time
    /// in a result), so years 0000 to 9999 (every time privsim reads) are
    /// written digit by digit into a buffer; any other year through
    /// `write!` ([`Instant::write_rfc3339_formatted`], the definition the
    /// tests compare this with).
    fn write_rfc3339(self, out: &mut impl fmt::Write) -> fmt::Result {
        let millis = self.0.rem_euclid(1000);
        let seconds = self.0.div_euclid(1000);
        let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
        let Ok(year) = u16::try_from(year) else {
            return self.write_rfc3339_formatted(out);
        };
        if year > 9999 {
            return self.write_rfc3339_formatted(out);
        }
        let in_day = seconds.rem_euclid(86_400);
        let mut text = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut value: i64| {
            for slot in text[at..at + width].iter_mut().rev() {
                // A digit: `value % 10` is 0 to 9 (`value` is not negative).
                *slot = b'0' + u8::try_from(value % 10).unwrap_or(0);
                value /= 10;
            }
        };
        put(0, 4, i64::from(year));
        put(5, 2, month);
        put(8, 2, day);
        put(11, 2, in_day / 3600);
        put(14, 2, in_day / 60 % 60);
        put(17, 2, in_day % 60);
        let text = if millis == 0 {
            text[19] = b'Z';
            &text[..20]
        } else {
            put(20, 3, millis);
            &text[..]
        };
        // Only ASCII digits and punctuation were written.
        out.write_str(std::str::from_utf8(text).map_err(|_| fmt::Error)?)
    }

    /// [`Instant::write_rfc3339`] through `write!`, for every year.
    fn write_rfc3339_formatted(self, out: &mut impl fmt::Write) -> fmt::Result {
        let millis = self.0.rem_euclid(1000);
        let seconds = self.0.div_euclid(1000);
        let days = seconds.div_euclid(86_400);
        let in_day = seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        write!(
            out,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            in_day / 3600,
            in_day / 60 % 60,
            in_day % 60
        )?;
        if millis != 0 {
            write!(out, ".{millis:03}")?;
        }
        out.write_str("Z")
    }
}

impl fmt::Display for Instant {
    /// Formats as `YYYY-MM-DDTHH:MM:SSZ`, with `.mmm` when there are milliseconds;
    /// both forms are accepted by Cedar's `datetime()`. Width and alignment
    /// (`{:<24}`) pad it as they pad text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.width().is_none() {
            return self.write_rfc3339(f);
        }
        let mut text = String::with_capacity(24);
        self.write_rfc3339(&mut text)?;
        f.pad(&text)
    }
}

/// Written in the contract exactly as [`Display`](fmt::Display) writes it, so a
/// time reads as it always has: `2026-06-01T09:00:00Z`, with `.mmm` when
/// there are milliseconds.
impl serde::Serialize for Instant {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Read back with [`Instant::parse_rfc3339`]: a stored time that is not an
/// RFC 3339 timestamp within the years 0000–9999 is an error (located by
/// the reader, e.g. serde_json's line and column), never a fallback.
impl<'de> serde::Deserialize<'de> for Instant {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Instant;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp like `2026-06-01T09:00:00Z`")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Instant, E> {
                Instant::parse_rfc3339(text).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// Parses a duration like `5m`, `1h30m`, `90s`, `2d`, `250ms` into milliseconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let bad = || format!("`{text}` is not a duration like `5m`, `1h30m`, `90s` or `2d`");
    if text.is_empty() {
        return Err(bad());
    }
    let mut total: i64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 12 {
            return Err(bad());
        }
        let value: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total = value
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    Ok(total)
}

/// Parses a scenario time: an RFC 3339 timestamp, or `+<duration>` after `start`.
pub fn parse_time(text: &str, start: Instant) -> Result<Instant, String> {
    if let Some(duration) = text.strip_prefix('+') {
        let millis = parse_duration(duration)?;
        start
            .checked_add(millis)
            .ok_or_else(|| format!("`{text}` is too far from the start"))
    } else if text.starts_with('-') {
        Err(format!(
            "`{text}`: times before the scenario start are not allowed"
        ))
    } else {
        Instant::parse_rfc3339(text)
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: &str) {
        let instant = Instant::parse_rfc3339(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(instant.to_string(), expected);
    }

    #[test]
    fn timestamps_round_trip_in_utc() {
        check("2026-06-01T09:00:00Z", "2026-06-01T09:00:00Z");
        check("2026-06-01T11:00:00+02:00", "2026-06-01T09:00:00Z");
        check("2024-02-29T23:59:59.5-00:30", "2024-03-01T00:29:59.500Z");
        check("1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z");
        assert_eq!(
            Instant::parse_rfc3339("1970-01-01T00:00:01Z"),
            Ok(Instant(1000))
        );
    }

    /// The digit-by-digit writer writes what `write!` writes, on times
    /// spread over the years 0000 to 9999 and beyond (either side), with and
    /// without milliseconds, and at the edges of days, months and years.
    #[test]
    fn times_are_written_as_formatted() {
        let formatted = |at: Instant| {
            let mut text = String::new();
            at.write_rfc3339_formatted(&mut text)
                .unwrap_or_else(|e| panic!("{e}"));
            text
        };
        let year_0 =
            Instant::parse_rfc3339("0000-01-01T00:00:00Z").unwrap_or_else(|e| panic!("{e}"));
        let year_9999 =
            Instant::parse_rfc3339("9999-12-31T23:59:59.999Z").unwrap_or_else(|e| panic!("{e}"));
        let mut cases = vec![
            Instant(0),
            Instant(-1),
            Instant(999),
            Instant(1000),
            Instant(1_780_304_400_250),
            year_0,
            Instant(year_0.0 - 1),
            year_9999,
            Instant(year_9999.0 + 1),
            Instant(i64::MIN / 4),
            Instant(i64::MAX / 4),
        ];
        // A linear congruential walk over the whole range of years read, and
        // whole seconds (no milliseconds written) every other time.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let span = u64::try_from(year_9999.0 - year_0.0).unwrap_or(u64::MAX);
        for k in 0..200_000 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let offset = i64::try_from((x >> 11) % span).unwrap_or(0);
            let at = year_0.0 + offset;
            cases.push(Instant(if k % 2 == 0 {
                at - at.rem_euclid(1000)
            } else {
                at
            }));
        }
        let mut seen_millis = 0;
        for at in cases {
            let expected = formatted(at);
            seen_millis += usize::from(expected.contains('.'));
            assert_eq!(at.to_string(), expected, "{}", at.0);
        }
        assert!(seen_millis > 90_000, "{seen_millis}");
    }

    #[test]
    fn instants_pad_like_text() {
        let at = Instant(1_780_304_400_250);
        assert_eq!(format!("[{at:<26}]"), "[2026-06-01T09:00:00.250Z  ]");
        assert_eq!(format!("[{at:>25}]"), "[ 2026-06-01T09:00:00.250Z]");
        assert_eq!(format!("[{at:3}]"), format!("[{at}]"));
    }

    #[test]
    fn invalid_timestamps_are_rejected() {
        for text in [
            "2026-02-30T00:00:00Z",
            "2026-06-01 09:00:00Z",
            "2026-06-01T24:00:00Z",
            "2026-06-01T09:00:00",
            "2026-06-01T09:00:00.1234Z",
            "",
            "2026-06-01T09:00:00+2:00",
            "２026-06-01T09:00:00Z",
        ] {
            assert!(Instant::parse_rfc3339(text).is_err(), "{text} was accepted");
        }
    }

    /// Every instant privsim can hold is written as the engine wrote times
    /// before they were typed (`Display`), reads back as itself, and keeps
    /// its order; the edges of the range and millisecond values included.
    #[test]
    fn instants_round_trip_through_json() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let span = (Instant::MAX.0 - Instant::MIN.0) as u64 + 1;
        let mut samples = vec![
            Instant::MIN,
            Instant::MAX,
            Instant(0),
            Instant(-1),
            Instant(999),
        ];
        for _ in 0..10_000 {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let millis = Instant::MIN.0 + ((seed >> 11) % span) as i64;
            // Half of them on whole seconds, the common case.
            samples.push(Instant(if seed & 1 == 0 {
                millis - millis.rem_euclid(1000)
            } else {
                millis
            }));
        }
        for instant in &samples {
            let json = serde_json::to_string(instant).unwrap_or_default();
            assert_eq!(json, format!("\"{instant}\""));
            let back: Instant =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(back, *instant, "{json}");
        }
        samples.sort();
        for pair in samples.windows(2) {
            assert!(pair[0] <= pair[1]);
        }
    }

    /// A stored time that is not a timestamp is refused at its line and
    /// column with what was expected; a number is refused too.
    #[test]
    fn an_unreadable_stored_time_is_a_located_error() {
        let error = serde_json::from_str::<Vec<Instant>>(
            "[\n  \"2026-06-01T09:00:00Z\",\n  \"yesterday\"]",
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            error.contains("`yesterday` is not an RFC 3339 timestamp"),
            "{error}"
        );
        assert!(error.contains("line 3 column 13"), "{error}");
        let error = serde_json::from_str::<Instant>("1780304400000")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("expected an RFC 3339 timestamp"), "{error}");
        let error = serde_json::from_str::<Instant>("\"10000-01-01T00:00:00Z\"")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("not an RFC 3339 timestamp"), "{error}");
    }

    #[test]
    fn durations_add_up() {
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert_eq!(parse_duration("2d"), Ok(172_800_000));
        for text in ["", "5", "m", "5x", "1.5h", "-5m", "999999999999999d"] {
            assert!(parse_duration(text).is_err(), "{text} was accepted");
        }
        let start = Instant(0);
        assert_eq!(parse_time("+5m", start), Ok(Instant(300_000)));
        assert!(parse_time("-5m", start).is_err());
    }
}
