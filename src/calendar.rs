//! The yearly recertification cycle (R17–R20), as pure functions of the clock.
//!
//! Each year a window opens (1 September by default) and closes at a deadline (31 December).
//! A certification counts for the cycle of the window it falls in (one made before the window
//! opens counts, late, for the previous cycle). A user must hold the certification of the last
//! cycle whose deadline has passed, if the user existed before that deadline (R17); a user
//! created after this year's window opened must be certified for this cycle before first use
//! (R20). Coordinators are never recertified.

use time::{Date, Month, OffsetDateTime, Time};

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

fn at(year: i32, (month, day): (Month, u8)) -> OffsetDateTime {
    Date::from_calendar_date(year, month, day)
        .unwrap_or(Date::MIN)
        .with_time(Time::MIDNIGHT)
        .assume_utc()
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

    /// The end of the deadline day.
    pub fn deadline_in(&self, year: i32) -> OffsetDateTime {
        at(year, self.deadline) + time::Duration::days(1)
    }

    /// The first deadline after `t`: when a right flagged at `t` is removed (R18).
    pub fn next_deadline_after(&self, t: OffsetDateTime) -> OffsetDateTime {
        let d = self.deadline_in(t.year());
        if d > t {
            d
        } else {
            self.deadline_in(t.year() + 1)
        }
    }

    /// The cycle a certification made at `t` counts for.
    pub fn cycle_of(&self, t: OffsetDateTime) -> i32 {
        if t >= self.opens_in(t.year()) {
            t.year()
        } else {
            t.year() - 1
        }
    }

    /// Whether the window of `now`'s year is open.
    pub fn is_open(&self, now: OffsetDateTime) -> bool {
        now >= self.opens_in(now.year()) && now < self.deadline_in(now.year())
    }

    /// The cycle a user created at `created` must hold a certification for at `now`, if any.
    pub fn required_cycle(&self, created: OffsetDateTime, now: OffsetDateTime) -> Option<i32> {
        let year = now.year();
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
        if now >= self.deadline_in(now.year()) {
            now.year()
        } else {
            now.year() - 1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn default() -> Window {
        Window::parse("09-01", "12-31").expect("window")
    }

    #[test]
    fn parses_and_refuses_bad_windows() {
        assert!(Window::parse("12-31", "09-01").is_none());
        assert!(Window::parse("02-29", "12-31").is_none());
        assert!(Window::parse("13-01", "12-31").is_none());
        assert_eq!(default().deadline_in(2026), datetime!(2027-01-01 00:00 UTC));
    }

    #[test]
    fn r17_r20_required_cycles() {
        let w = default();
        let old = datetime!(2025-05-01 00:00 UTC);
        // Before its first deadline, an old user needs the 2025 cycle from 2026-01-01 on.
        assert_eq!(w.required_cycle(old, datetime!(2025-12-31 23:59 UTC)), None);
        assert_eq!(
            w.required_cycle(old, datetime!(2026-01-01 00:00 UTC)),
            Some(2025)
        );
        assert_eq!(
            w.required_cycle(old, datetime!(2026-10-01 00:00 UTC)),
            Some(2025)
        );
        assert_eq!(
            w.required_cycle(old, datetime!(2027-01-01 00:00 UTC)),
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
            w.required_cycle(spring, datetime!(2027-01-01 00:00 UTC)),
            Some(2026)
        );
        assert_eq!(w.cycle_of(datetime!(2026-09-01 00:00 UTC)), 2026);
        assert_eq!(w.cycle_of(datetime!(2026-08-31 23:00 UTC)), 2025);
    }
}
