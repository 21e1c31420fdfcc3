//! Timestamps exactly as Go's `time` package parses and prints them for sops.
//!
//! sops reads unquoted YAML timestamps through go-yaml v3 (`resolve.go`
//! `allowedTimestampFormats`), decrypts `type:time` values with `time.Time.UnmarshalText`
//! (RFC 3339), parses `sops.lastmodified` with `time.Parse(time.RFC3339, …)` and feeds
//! `time.Time.MarshalText` (RFC 3339 with nanoseconds) into the MAC. The MAC is a hash of
//! these exact bytes, so this module reproduces Go's field widths, fraction trimming and
//! `Z`/`±hh:mm` zone printing byte for byte.
//!
//! It must not convert to another zone: Go keeps the wall clock and offset it parsed, and so
//! do we. It knows nothing about YAML or sops beyond those formats.
//! Spec: `shared/reference/formats-and-peers.md` §1.1 and §1.6.

use std::fmt::Write as _;

/// A wall-clock time with the UTC offset it was written with, as Go's `time.Time` keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GoTime {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    nanos: u32,
    /// Offset east of UTC in seconds; 0 prints as `Z`.
    offset: i32,
}

/// How one Go layout spells its fields (Go's `getnum(value, fixed)`: fixed = exactly two digits).
#[derive(Clone, Copy)]
struct Layout {
    two_digit_date: bool,
    two_digit_minute_second: bool,
    /// Date-time separator; `None` for a date-only layout.
    separator: Option<u8>,
    /// Whether a `Z07:00` zone is part of the layout.
    zone: bool,
}

/// go-yaml v3 `allowedTimestampFormats`, tried in order.
const YAML_LAYOUTS: [Layout; 4] = [
    // "2006-1-2T15:4:5.999999999Z07:00"
    Layout {
        two_digit_date: false,
        two_digit_minute_second: false,
        separator: Some(b'T'),
        zone: true,
    },
    // "2006-1-2t15:4:5.999999999Z07:00"
    Layout {
        two_digit_date: false,
        two_digit_minute_second: false,
        separator: Some(b't'),
        zone: true,
    },
    // "2006-1-2 15:4:5.999999999"
    Layout {
        two_digit_date: false,
        two_digit_minute_second: false,
        separator: Some(b' '),
        zone: false,
    },
    // "2006-1-2"
    Layout {
        two_digit_date: false,
        two_digit_minute_second: false,
        separator: None,
        zone: false,
    },
];

/// Go's `time.RFC3339` layout, "2006-01-02T15:04:05Z07:00" (the hour field is not fixed-width).
const RFC3339: Layout = Layout {
    two_digit_date: true,
    two_digit_minute_second: true,
    separator: Some(b'T'),
    zone: true,
};

impl GoTime {
    /// go-yaml v3 `parseTimestamp`: an unquoted scalar that is a timestamp, or `None`.
    pub(crate) fn parse_yaml(s: &str) -> Option<Self> {
        let bytes = s.as_bytes();
        // Quick check from resolve.go: all date formats start with YYYY-.
        let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits != 4 || bytes.get(4) != Some(&b'-') {
            return None;
        }
        YAML_LAYOUTS.iter().find_map(|layout| parse(bytes, *layout))
    }

    /// `time.Parse(time.RFC3339, s)`, also used for `time.Time.UnmarshalText`.
    pub(crate) fn parse_rfc3339(s: &str) -> Option<Self> {
        parse(s.as_bytes(), RFC3339)
    }

    /// `t.Format(time.RFC3339Nano)`, which is also what `MarshalText` writes and what go-yaml
    /// prints for a timestamp. `None` where `MarshalText` fails (zone hour outside 0..=23).
    pub(crate) fn to_rfc3339_nano(self) -> Option<String> {
        self.format(true)
    }

    /// `t.Format(time.RFC3339)`: seconds precision, as sops uses for the MAC's additional data.
    pub(crate) fn to_rfc3339(self) -> Option<String> {
        self.format(false)
    }

    fn format(self, nanos: bool) -> Option<String> {
        let mut out = String::with_capacity(35);
        // Writing to a String cannot fail; the results are ignored on purpose.
        let _ = write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        );
        if nanos && self.nanos > 0 {
            let frac = format!("{:09}", self.nanos);
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        if self.offset == 0 {
            out.push('Z');
        } else {
            let minutes = self.offset / 60;
            let sign = if minutes < 0 { '-' } else { '+' };
            let abs = minutes.unsigned_abs();
            if abs / 60 >= 24 {
                return None;
            }
            let _ = write!(out, "{sign}{:02}:{:02}", abs / 60, abs % 60);
        }
        Some(out)
    }
}

/// A cursor over the input, with Go's `getnum` rules.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl Cursor<'_> {
    fn eat(&mut self, byte: u8) -> Option<()> {
        let (first, rest) = self.rest.split_first()?;
        (*first == byte).then(|| self.rest = rest)
    }

    /// One or two digits (`fixed` = exactly two), like Go's `getnum`.
    fn number(&mut self, fixed: bool) -> Option<u8> {
        let first = *self.rest.first().filter(|b| b.is_ascii_digit())?;
        match self.rest.get(1).filter(|b| b.is_ascii_digit()) {
            Some(second) => {
                self.rest = self.rest.get(2..)?;
                Some((first - b'0') * 10 + (second - b'0'))
            }
            None if fixed => None,
            None => {
                self.rest = self.rest.get(1..)?;
                Some(first - b'0')
            }
        }
    }

    fn year(&mut self) -> Option<u16> {
        let digits = self.rest.get(..4)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.rest = self.rest.get(4..)?;
        Some(digits.iter().fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0')))
    }

    /// Go accepts a fraction after the seconds even when the layout has none, with `.` or `,`,
    /// and keeps nine digits (`parseNanoseconds`).
    fn fraction(&mut self) -> u32 {
        let has_fraction = matches!(self.rest, [b'.' | b',', d, ..] if d.is_ascii_digit());
        if !has_fraction {
            return 0;
        }
        let digits: Vec<u8> = self
            .rest
            .iter()
            .skip(1)
            .take_while(|b| b.is_ascii_digit())
            .copied()
            .collect();
        self.rest = self.rest.get(1 + digits.len()..).unwrap_or_default();
        let mut nanos = 0u32;
        for i in 0..9 {
            nanos = nanos * 10 + digits.get(i).map_or(0, |d| u32::from(d - b'0'));
        }
        nanos
    }

    /// Go's `stdISO8601ColonTZ` parser: `Z` or `±hh:mm`.
    fn zone(&mut self) -> Option<i32> {
        if self.eat(b'Z').is_some() {
            return Some(0);
        }
        let [sign, h1, h2, b':', m1, m2, rest @ ..] = self.rest else {
            return None;
        };
        let sign = match sign {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        if ![h1, h2, m1, m2].iter().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let hours = i32::from((h1 - b'0') * 10 + (h2 - b'0'));
        let minutes = i32::from((m1 - b'0') * 10 + (m2 - b'0'));
        if hours > 24 || minutes > 60 {
            return None;
        }
        self.rest = rest;
        Some(sign * (hours * 3600 + minutes * 60))
    }
}

fn parse(input: &[u8], layout: Layout) -> Option<GoTime> {
    let mut c = Cursor { rest: input };
    let year = c.year()?;
    c.eat(b'-')?;
    let month = c.number(layout.two_digit_date)?;
    c.eat(b'-')?;
    let day = c.number(layout.two_digit_date)?;
    let (mut hour, mut minute, mut second, mut nanos, mut offset) = (0, 0, 0, 0, 0);
    if let Some(separator) = layout.separator {
        c.eat(separator)?;
        hour = c.number(false)?;
        c.eat(b':')?;
        minute = c.number(layout.two_digit_minute_second)?;
        c.eat(b':')?;
        second = c.number(layout.two_digit_minute_second)?;
        nanos = c.fraction();
        if layout.zone {
            offset = c.zone()?;
        }
    }
    if !c.rest.is_empty()
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    Some(GoTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
        nanos,
        offset,
    })
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::GoTime;

    fn yaml(s: &str) -> Option<String> {
        GoTime::parse_yaml(s).and_then(GoTime::to_rfc3339_nano)
    }

    #[test]
    fn yaml_timestamps_print_like_go() {
        assert_eq!(yaml("2025-12-31").as_deref(), Some("2025-12-31T00:00:00Z"));
        assert_eq!(
            yaml("2024-01-01T10:00:00.5+02:00").as_deref(),
            Some("2024-01-01T10:00:00.5+02:00")
        );
        assert_eq!(yaml("2024-1-2t3:4:5Z").as_deref(), Some("2024-01-02T03:04:05Z"));
        assert_eq!(
            yaml("2024-01-02 03:04:05.123000").as_deref(),
            Some("2024-01-02T03:04:05.123Z")
        );
        assert_eq!(
            yaml("2024-01-02T03:04:05+00:00").as_deref(),
            Some("2024-01-02T03:04:05Z")
        );
        assert_eq!(
            yaml("2024-01-02T03:04:05.1234567891Z").as_deref(),
            Some("2024-01-02T03:04:05.123456789Z")
        );
        assert_eq!(yaml("2024-02-29").as_deref(), Some("2024-02-29T00:00:00Z"));
    }

    #[test]
    fn non_timestamps_are_rejected() {
        for s in [
            "2023-02-29",
            "2024-13-01",
            "2024-01-01T00:00:00",
            "2024-01-01 00:00:00Z",
            "2001-12-14 21:59:43.10 -5",
            "12024-01-01",
            "2024-01-01x",
            "2024-01-01T24:00:00Z",
        ] {
            assert_eq!(GoTime::parse_yaml(s), None, "{s}");
        }
    }

    #[test]
    fn rfc3339_needs_two_digit_dates_and_drops_fractions_when_asked() {
        assert_eq!(GoTime::parse_rfc3339("2024-1-01T00:00:00Z"), None);
        let t = GoTime::parse_rfc3339("2026-11-29T11:33:08.75-05:30").unwrap();
        assert_eq!(t.to_rfc3339().as_deref(), Some("2026-11-29T11:33:08-05:30"));
        assert_eq!(
            t.to_rfc3339_nano().as_deref(),
            Some("2026-11-29T11:33:08.75-05:30")
        );
    }

    #[test]
    fn marshal_text_refuses_zone_hours_past_23() {
        let t = GoTime::parse_yaml("2024-01-01T00:00:00+24:00").unwrap();
        assert_eq!(t.to_rfc3339_nano(), None);
    }
}
