//! Days in HUD's time, and the yearly recertification cycle (R17–R21), as pure functions of the
//! clock.
//!
//! Every deadline and "day" of the rules is a day in Washington (`America/New_York`, R17):
//! "by December 31" means through the end of 31 December there, not midnight UTC (19:00 the
//! evening before, in winter). Stored instants stay UTC; only days are read in Washington, with
//! `jiff`'s bundled time-zone database, so the answer does not depend on the host's files and
//! is right across a daylight-saving change.
//!
//! Each year a window opens (1 September by default) and closes at a deadline (31 December).
//! A certification counts for the cycle of the window it falls in (one made before the window
//! opens counts, late, for the previous cycle). A user must hold the certification of the last
//! cycle whose deadline has passed, if the user existed before that deadline (R17); a user
//! created after this year's window opened must be certified for this cycle before first use
//! (R20). Coordinators are never recertified.

use std::sync::OnceLock;
use time::{Date, Month, OffsetDateTime};

/// HUD's time zone: the days of every rule are days there (R17).
pub const HUD_TIME_ZONE: &str = "America/New_York";

/// Washington's zone, from the bundled database (read once).
fn washington() -> &'static jiff::tz::TimeZone {
    static ZONE: OnceLock<jiff::tz::TimeZone> = OnceLock::new();
    ZONE.get_or_init(|| {
        // The database is compiled in (`tzdb-bundle-always`), so this cannot fail at run time;
        // Eastern Standard Time is the least wrong answer if it ever did.
        jiff::tz::TimeZone::get(HUD_TIME_ZONE)
            .unwrap_or_else(|_| jiff::tz::offset(-5).to_time_zone())
    })
}

/// The day `t` falls on in Washington.
pub fn day_in_washington(t: OffsetDateTime) -> Date {
    let offset = jiff::Timestamp::from_second(t.unix_timestamp())
        .map(|ts| washington().to_offset(ts).seconds())
        .unwrap_or(-5 * 3600);
    (t + time::Duration::seconds(i64::from(offset))).date()
}

/// The instant (UTC) a day begins in Washington: midnight there, or the first instant after a
/// daylight-saving gap.
pub fn start_of_day(day: Date) -> OffsetDateTime {
    let civil = i16::try_from(day.year())
        .ok()
        .and_then(|y| jiff::civil::Date::new(y, u8::from(day.month()) as i8, day.day() as i8).ok());
    let seconds = civil
        .and_then(|d| d.to_zoned_datetime(washington().clone()).ok())
        .map(|z| z.timestamp().as_second());
    match seconds.and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok()) {
        Some(t) => t,
        None => day.midnight().assume_utc(),
    }
}

/// The instant a day ends in Washington (the next day's start): "through `day`" (R17).
pub fn end_of_day(day: Date) -> OffsetDateTime {
    start_of_day(day.next_day().unwrap_or(Date::MAX))
}

/// `t` as the ISO date (`YYYY-MM-DD`) of its day in Washington, as people are shown dates.
pub fn iso_day(t: OffsetDateTime) -> String {
    iso_date(day_in_washington(t))
}

/// A day as `YYYY-MM-DD`.
pub fn iso_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Parses `YYYY-MM-DD` (a day in Washington).
pub fn parse_iso_date(s: &str) -> Option<Date> {
    let mut parts = s.trim().splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month = Month::try_from(parts.next()?.parse::<u8>().ok()?).ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

/// The same day one year later: a yearly duty's next due day (R21). 29 February falls due on
/// 28 February.
pub fn a_year_after(d: Date) -> Date {
    d.replace_year(d.year() + 1)
        .or_else(|_| Date::from_calendar_date(d.year() + 1, d.month(), d.day() - 1))
        .unwrap_or(d)
}

/// Whole days from `now`'s day in Washington to `day` (negative once it has passed).
pub fn days_until(now: OffsetDateTime, day: Date) -> i64 {
    (day - day_in_washington(now)).whole_days()
}

/// The year of `t`'s day in Washington.
fn year_of(t: OffsetDateTime) -> i32 {
    day_in_washington(t).year()
}

/// Window dates as month and day, e.g. `09-01` and `12-31`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub opens: (Month, u8),
    pub deadline: (Month, u8),
}

/// Parses `MM-DD`.
pub fn parse_month_day(s: &str) -> Option<(Month, u8)> {
    let (m, d) = s.trim().split_once('-')?;
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    let day: u8 = d.parse().ok()?;
    // Valid in every year (no 29 February).
    Date::from_calendar_date(2025, month, day).ok()?;
    Some((month, day))
}

/// The start, in Washington, of a window's day in `year`.
fn at(year: i32, (month, day): (Month, u8)) -> OffsetDateTime {
    start_of_day(Date::from_calendar_date(year, month, day).unwrap_or(Date::MIN))
}

impl Window {
    pub fn parse(opens: &str, deadline: &str) -> Option<Window> {
        let w = Window {
            opens: parse_month_day(opens)?,
            deadline: parse_month_day(deadline)?,
        };
        (w.opens_in(2025) < w.deadline_in(2025)).then_some(w)
    }

    pub fn opens_in(&self, year: i32) -> OffsetDateTime {
        at(year, self.opens)
    }

    /// The end of the deadline day in Washington (R17: "by December 31" is through it).
    pub fn deadline_in(&self, year: i32) -> OffsetDateTime {
        let (month, day) = self.deadline;
        end_of_day(Date::from_calendar_date(year, month, day).unwrap_or(Date::MIN))
    }

    /// The first deadline after `t`: when a right flagged at `t` is removed (R18).
    pub fn next_deadline_after(&self, t: OffsetDateTime) -> OffsetDateTime {
        let d = self.deadline_in(year_of(t));
        if d > t {
            d
        } else {
            self.deadline_in(year_of(t) + 1)
        }
    }

    /// The cycle a certification made at `t` counts for.
    pub fn cycle_of(&self, t: OffsetDateTime) -> i32 {
        if t >= self.opens_in(year_of(t)) {
            year_of(t)
        } else {
            year_of(t) - 1
        }
    }

    /// Whether the window of `now`'s year is open.
    pub fn is_open(&self, now: OffsetDateTime) -> bool {
        now >= self.opens_in(year_of(now)) && now < self.deadline_in(year_of(now))
    }

    /// The cycle a user created at `created` must hold a certification for at `now`, if any.
    pub fn required_cycle(&self, created: OffsetDateTime, now: OffsetDateTime) -> Option<i32> {
        let year = year_of(now);
        // R20: created after this year's window opened: certified before first use.
        if now >= self.opens_in(year) && created >= self.opens_in(year) {
            return Some(year);
        }
        // R17: the last cycle whose deadline has passed, if the user existed before it.
        let last = self.last_closed_cycle(now);
        (created < self.deadline_in(last)).then_some(last)
    }

    /// The last cycle whose deadline has passed at `now`.
    pub fn last_closed_cycle(&self, now: OffsetDateTime) -> i32 {
        if now >= self.deadline_in(year_of(now)) {
            year_of(now)
        } else {
            year_of(now) - 1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn default() -> Window {
        Window::parse("09-01", "12-31").expect("window")
    }

    #[test]
    fn parses_and_refuses_bad_windows() {
        assert!(Window::parse("12-31", "09-01").is_none());
        assert!(Window::parse("02-29", "12-31").is_none());
        assert!(Window::parse("13-01", "12-31").is_none());
        // R17: through the end of 31 December in Washington (EST, UTC-5).
        assert_eq!(default().deadline_in(2026), datetime!(2027-01-01 05:00 UTC));
    }

    #[test]
    fn r17_days_are_days_in_washington_across_new_year_and_dst() {
        // 19:00 on 31 December in Washington is midnight UTC: still 31 December there.
        assert_eq!(
            day_in_washington(datetime!(2028-01-01 00:00 UTC)),
            date!(2027 - 12 - 31)
        );
        assert_eq!(
            day_in_washington(datetime!(2028-01-01 05:00 UTC)),
            date!(2028 - 01 - 01)
        );
        // Daylight saving: midnight is 04:00 UTC in summer, 05:00 in winter; the day of the
        // change (2027-03-14, 2027-11-07) still begins at local midnight.
        assert_eq!(
            start_of_day(date!(2027 - 07 - 04)),
            datetime!(2027-07-04 04:00 UTC)
        );
        assert_eq!(
            start_of_day(date!(2027 - 03 - 14)),
            datetime!(2027-03-14 05:00 UTC)
        );
        assert_eq!(
            end_of_day(date!(2027 - 03 - 14)),
            datetime!(2027-03-15 04:00 UTC)
        );
        assert_eq!(
            end_of_day(date!(2027 - 11 - 07)),
            datetime!(2027-11-08 05:00 UTC)
        );
        assert_eq!(iso_day(datetime!(2027-11-07 04:30 UTC)), "2027-11-07");
        assert_eq!(iso_day(datetime!(2027-11-07 03:30 UTC)), "2027-11-06");
        // The internal window: through 6 December in Washington.
        let internal = Window::parse("11-01", "12-06").expect("window");
        assert_eq!(internal.deadline_in(2027), datetime!(2027-12-07 05:00 UTC));
        assert!(internal.is_open(datetime!(2027-12-07 04:59 UTC)));
        assert!(!internal.is_open(datetime!(2027-12-07 05:00 UTC)));
    }

    #[test]
    fn r21_a_year_after_and_days_until() {
        assert_eq!(a_year_after(date!(2027 - 03 - 10)), date!(2028 - 03 - 10));
        assert_eq!(a_year_after(date!(2028 - 02 - 29)), date!(2029 - 02 - 28));
        assert_eq!(
            days_until(datetime!(2028-02-09 12:00 UTC), date!(2028 - 03 - 10)),
            30
        );
        assert_eq!(parse_iso_date("2027-11-01"), Some(date!(2027 - 11 - 01)));
        assert_eq!(parse_iso_date("2027-13-01"), None);
    }

    #[test]
    fn r17_r20_required_cycles() {
        let w = default();
        let old = datetime!(2025-05-01 00:00 UTC);
        // Before its first deadline, an old user needs the 2025 cycle from 1 January 2026 in
        // Washington on: 19:00 on 31 December there is not yet the deadline.
        assert_eq!(w.required_cycle(old, datetime!(2026-01-01 04:59 UTC)), None);
        assert_eq!(
            w.required_cycle(old, datetime!(2026-01-01 05:00 UTC)),
            Some(2025)
        );
        assert_eq!(
            w.required_cycle(old, datetime!(2026-10-01 00:00 UTC)),
            Some(2025)
        );
        assert_eq!(
            w.required_cycle(old, datetime!(2027-01-01 05:00 UTC)),
            Some(2026)
        );
        // R20: created while the window is open: this cycle, at once.
        let new = datetime!(2026-10-01 00:00 UTC);
        assert_eq!(w.required_cycle(new, new), Some(2026));
        assert_eq!(
            w.required_cycle(new, datetime!(2027-03-01 00:00 UTC)),
            Some(2026)
        );
        // Created after the window closed: nothing until the next deadline.
        let spring = datetime!(2026-03-01 00:00 UTC);
        assert_eq!(
            w.required_cycle(spring, datetime!(2026-08-31 00:00 UTC)),
            None
        );
        assert_eq!(
            w.required_cycle(spring, datetime!(2026-09-15 00:00 UTC)),
            None
        );
        assert_eq!(
            w.required_cycle(spring, datetime!(2027-01-01 05:00 UTC)),
            Some(2026)
        );
        // The window opens at midnight in Washington (04:00 UTC in September).
        assert_eq!(w.cycle_of(datetime!(2026-09-01 04:00 UTC)), 2026);
        assert_eq!(w.cycle_of(datetime!(2026-09-01 03:59 UTC)), 2025);
    }
}
