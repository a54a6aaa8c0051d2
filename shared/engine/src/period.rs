//! Periods (SPEC §4): the calendar day, the ISO week (Monday start) or the calendar month, in a
//! time zone. A period is identified by its first local day; its bounds are local midnights, which
//! DST moves in UTC (a New York day is 23 or 25 hours on the change days).

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
pub use domain::progress::PeriodKind;

/// One period in one time zone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Period {
    pub kind: PeriodKind,
    pub tz: Tz,
    /// The period's first local day: the date, the ISO week's Monday, the month's 1st.
    pub first_day: NaiveDate,
}

/// The first instant of a local day. Where DST skips local midnight (e.g. America/Santiago),
/// the day starts at the first local time that exists.
fn local_day_start(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    let mut time = NaiveTime::MIN;
    for _ in 0..(4 * 24) {
        if let Some(t) = tz.from_local_datetime(&day.and_time(time)).earliest() {
            return t.with_timezone(&Utc);
        }
        time += Duration::minutes(15);
    }
    // No zone skips a whole day's first hours; fall back to the UTC reading.
    Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN))
}

impl Period {
    /// The period of `kind` in `tz` that contains the instant `at`.
    pub fn containing(kind: PeriodKind, tz: Tz, at: DateTime<Utc>) -> Self {
        let local = at.with_timezone(&tz).date_naive();
        let first_day = match kind {
            PeriodKind::Daily => local,
            PeriodKind::Weekly => {
                local - Duration::days(i64::from(local.weekday().num_days_from_monday()))
            }
            PeriodKind::Monthly => local.with_day(1).unwrap_or(local),
        };
        Period {
            kind,
            tz,
            first_day,
        }
    }

    pub fn next(&self) -> Self {
        let first_day = match self.kind {
            PeriodKind::Daily => self.first_day + Duration::days(1),
            PeriodKind::Weekly => self.first_day + Duration::days(7),
            PeriodKind::Monthly => self.first_day + Months::new(1),
        };
        Period {
            first_day,
            ..self.clone()
        }
    }

    pub fn start(&self) -> DateTime<Utc> {
        local_day_start(self.tz, self.first_day)
    }

    /// Exclusive end: the next period's start.
    pub fn end(&self) -> DateTime<Utc> {
        self.next().start()
    }

    /// The period `key` names (what `key` gives, read back), or `None` for anything else.
    pub fn from_key(kind: PeriodKind, tz: Tz, key: &str) -> Option<Self> {
        let first_day = match kind {
            PeriodKind::Daily => NaiveDate::parse_from_str(key, "%Y-%m-%d").ok()?,
            PeriodKind::Weekly => {
                let (year, week) = key.split_once("-W")?;
                NaiveDate::from_isoywd_opt(
                    year.parse().ok()?,
                    week.parse().ok()?,
                    chrono::Weekday::Mon,
                )?
            }
            PeriodKind::Monthly => {
                NaiveDate::parse_from_str(&format!("{key}-01"), "%Y-%m-%d").ok()?
            }
        };
        let period = Period {
            kind,
            tz,
            first_day,
        };
        (period.key() == key).then_some(period)
    }

    /// `2026-11-24`, `2026-W48` (ISO week-numbering year), `2026-11`.
    pub fn key(&self) -> String {
        match self.kind {
            PeriodKind::Daily => self.first_day.format("%Y-%m-%d").to_string(),
            PeriodKind::Weekly => {
                let week = self.first_day.iso_week();
                format!("{}-W{:02}", week.year(), week.week())
            }
            PeriodKind::Monthly => self.first_day.format("%Y-%m").to_string(),
        }
    }
}

/// A leaderboard's period (SPEC §11): a calendar period, or all of time (`all_time`: no end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardSpan {
    pub key: String,
    /// Exclusive; `None` for all time.
    pub end: Option<DateTime<Utc>>,
}

impl BoardSpan {
    fn of(period: Period) -> Self {
        BoardSpan {
            key: period.key(),
            end: Some(period.end()),
        }
    }

    fn all_time() -> Self {
        BoardSpan {
            key: domain::leaderboard::ALL_TIME_KEY.to_string(),
            end: None,
        }
    }

    /// The span of a board's period (`kind` `None`: all time) that contains `at`.
    pub fn containing(kind: Option<PeriodKind>, tz: Tz, at: DateTime<Utc>) -> Self {
        match kind {
            Some(kind) => Self::of(Period::containing(kind, tz, at)),
            None => Self::all_time(),
        }
    }

    /// The span a `periodKey` names, or `None` if it names none of this board's periods.
    pub fn from_key(kind: Option<PeriodKind>, tz: Tz, key: &str) -> Option<Self> {
        match kind {
            Some(kind) => Period::from_key(kind, tz, key).map(Self::of),
            None => (key == domain::leaderboard::ALL_TIME_KEY).then(Self::all_time),
        }
    }

    /// Once this has passed, the span's standings are final: nothing changes them any more.
    pub fn settles_at(&self) -> Option<DateTime<Utc>> {
        self.end.map(|end| end + domain::leaderboard::SETTLE_AFTER)
    }

    /// The span's announcement by the clock (`leaderboard.finished`) once it settles; `None` for
    /// all time, which never ends.
    pub fn finish(&self) -> Option<domain::leaderboard::NextFinish> {
        Some(domain::leaderboard::NextFinish {
            period_key: self.key.clone(),
            at: self.settles_at()?,
        })
    }

    /// The span right after this one (`None` for all time).
    pub fn next(&self, kind: Option<PeriodKind>, tz: Tz) -> Option<Self> {
        Some(Self::containing(kind, tz, self.end?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_board_span_is_announced_once_settled_and_followed_by_the_next_period() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let kind = Some(PeriodKind::Daily);
        // 23:30 in New York on 2026-03-07; the next day is 23 hours long (DST begins).
        let span = BoardSpan::containing(kind, tz, utc("2026-03-08T04:30:00Z"));
        assert_eq!(span.key, "2026-03-07");
        let finish = span.finish().unwrap();
        assert_eq!(finish.period_key, "2026-03-07");
        assert_eq!(finish.at, utc("2026-03-08T05:05:00Z"));
        let next = span.next(kind, tz).unwrap();
        assert_eq!(next.key, "2026-03-08");
        assert_eq!(next.end, Some(utc("2026-03-09T04:00:00Z")));
        let weekly = BoardSpan::containing(
            Some(PeriodKind::Weekly),
            Tz::UTC,
            utc("2026-12-31T12:00:00Z"),
        );
        assert_eq!(
            weekly.next(Some(PeriodKind::Weekly), Tz::UTC).unwrap().key,
            "2027-W01"
        );
        let all_time = BoardSpan::containing(None, tz, utc("2026-03-08T04:30:00Z"));
        assert_eq!((all_time.finish(), all_time.next(None, tz)), (None, None));
    }

    #[test]
    fn keys_read_back_to_their_periods_and_nothing_else_does() {
        let at = utc("2026-01-01T10:00:00Z");
        for kind in [PeriodKind::Daily, PeriodKind::Weekly, PeriodKind::Monthly] {
            let period = Period::containing(kind, Tz::UTC, at);
            assert_eq!(Period::from_key(kind, Tz::UTC, &period.key()), Some(period));
        }
        // 2026-01-01 is in ISO week 1 of 2026, which starts on 2025-12-29.
        let week = Period::from_key(PeriodKind::Weekly, Tz::UTC, "2026-W01").unwrap();
        assert_eq!(week.first_day.to_string(), "2025-12-29");
        for bad in ["2026-1-1", "2026-13", "x", "2026-W54", "2026-02-30", ""] {
            assert_eq!(
                Period::from_key(PeriodKind::Daily, Tz::UTC, bad),
                None,
                "{bad}"
            );
            assert_eq!(
                Period::from_key(PeriodKind::Monthly, Tz::UTC, bad),
                None,
                "{bad}"
            );
            assert_eq!(
                Period::from_key(PeriodKind::Weekly, Tz::UTC, bad),
                None,
                "{bad}"
            );
        }
    }

    #[test]
    fn keys_for_each_kind() {
        let at = utc("2026-11-24T10:00:00Z");
        assert_eq!(
            Period::containing(PeriodKind::Daily, Tz::UTC, at).key(),
            "2026-11-24"
        );
        assert_eq!(
            Period::containing(PeriodKind::Weekly, Tz::UTC, at).key(),
            "2026-W48"
        );
        assert_eq!(
            Period::containing(PeriodKind::Monthly, Tz::UTC, at).key(),
            "2026-11"
        );
    }

    #[test]
    fn the_day_is_local() {
        // 03:00 UTC on the 24th is still the 23rd in New York and already the 24th in Berlin.
        let at = utc("2026-11-24T03:00:00Z");
        assert_eq!(
            Period::containing(PeriodKind::Daily, Tz::America__New_York, at).key(),
            "2026-11-23"
        );
        assert_eq!(
            Period::containing(PeriodKind::Daily, Tz::Europe__Berlin, at).key(),
            "2026-11-24"
        );
    }

    #[test]
    fn new_york_days_across_both_dst_changes() {
        let ny = Tz::America__New_York;
        // 2026-03-08: clocks spring forward, the day has 23 hours.
        let spring = Period::containing(PeriodKind::Daily, ny, utc("2026-03-08T12:00:00Z"));
        assert_eq!(spring.start(), utc("2026-03-08T05:00:00Z"));
        assert_eq!(spring.end(), utc("2026-03-09T04:00:00Z"));
        assert_eq!(spring.end() - spring.start(), Duration::hours(23));
        // 2026-11-01: clocks fall back, the day has 25 hours.
        let fall = Period::containing(PeriodKind::Daily, ny, utc("2026-11-01T12:00:00Z"));
        assert_eq!(fall.start(), utc("2026-11-01T04:00:00Z"));
        assert_eq!(fall.end(), utc("2026-11-02T05:00:00Z"));
        assert_eq!(fall.end() - fall.start(), Duration::hours(25));
        // 23:30 local on the long day is still that day.
        assert_eq!(
            Period::containing(PeriodKind::Daily, ny, utc("2026-11-02T04:30:00Z")).key(),
            "2026-11-01"
        );
    }

    #[test]
    fn iso_weeks_across_the_year_boundary() {
        // 2026 has 53 ISO weeks: W53 runs Mon 2026-12-28 .. Sun 2027-01-03.
        let w53 = Period::containing(PeriodKind::Weekly, Tz::UTC, utc("2027-01-02T12:00:00Z"));
        assert_eq!(w53.key(), "2026-W53");
        assert_eq!(
            w53.first_day,
            NaiveDate::from_ymd_opt(2026, 12, 28).unwrap()
        );
        assert_eq!(w53.next().key(), "2027-W01");
        assert_eq!(
            w53.next().first_day,
            NaiveDate::from_ymd_opt(2027, 1, 4).unwrap()
        );
        // Monday start: Sunday belongs to the week that began six days earlier.
        let sunday = Period::containing(PeriodKind::Weekly, Tz::UTC, utc("2026-11-29T23:59:59Z"));
        assert_eq!(sunday.key(), "2026-W48");
        let monday = Period::containing(PeriodKind::Weekly, Tz::UTC, utc("2026-11-30T00:00:00Z"));
        assert_eq!(monday.key(), "2026-W49");
    }

    #[test]
    fn months_roll_over_years() {
        let dec = Period::containing(PeriodKind::Monthly, Tz::UTC, utc("2026-12-31T23:00:00Z"));
        assert_eq!(
            (dec.key(), dec.next().key()),
            ("2026-12".to_string(), "2027-01".to_string())
        );
        assert_eq!(dec.end(), utc("2027-01-01T00:00:00Z"));
    }

    #[test]
    fn a_skipped_local_midnight_starts_the_day_at_the_first_real_time() {
        // America/Santiago springs forward at local midnight: 2026-09-06 starts at 01:00 local.
        let day = Period::containing(
            PeriodKind::Daily,
            Tz::America__Santiago,
            utc("2026-09-06T15:00:00Z"),
        );
        assert_eq!(day.key(), "2026-09-06");
        assert_eq!(day.start(), utc("2026-09-06T04:00:00Z"));
    }
}
