//! Cron schedules of instances.
//!
//! Alibaba documents `cron` as five fields "minute hour day-of-month month day-of-week" with day-of-week 0 = Sunday,
//! and its own example uses the Quartz-style `?` (`0 3 ? * 0,1,3,5`). croner reads both; seconds and years are
//! refused so that a six-field Quartz expression is not silently shifted by one field. Times are UTC.

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use crate::error::{Error, Result};

/// Longest cron expression accepted.
pub const MAX_CRON_LEN: usize = 128;

#[derive(Clone, Debug)]
pub struct Schedule {
    cron: Cron,
}

impl Schedule {
    /// Parses an instance's `cron`; an empty (or blank) expression means "no periodic training".
    pub fn parse(expr: &str) -> Result<Option<Schedule>> {
        let expr = expr.trim();
        if expr.is_empty() {
            return Ok(None);
        }
        if expr.len() > MAX_CRON_LEN {
            return Err(Error::invalid(format_args!(
                "cron is longer than {MAX_CRON_LEN} characters."
            )));
        }
        let parser = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build();
        let cron = parser.parse(expr).map_err(|e| {
            Error::invalid(format_args!(
                "cron '{expr}' is invalid ({e}); expected 5 fields 'minute hour day-of-month month day-of-week' \
                 (day-of-week 0 = Sunday, '?' allowed), e.g. '0 3 * * *'."
            ))
        })?;
        // Reject expressions that can never fire (e.g. 30 February) now rather than at the first scheduling.
        let schedule = Schedule { cron };
        if schedule.next_after_ms(0).is_none() {
            return Err(Error::invalid(format_args!("cron '{expr}' never fires.")));
        }
        Ok(Some(schedule))
    }

    /// The first firing strictly after `after_ms` (epoch ms, UTC), at minute precision.
    pub fn next_after_ms(&self, after_ms: i64) -> Option<i64> {
        let after: DateTime<Utc> = DateTime::from_timestamp_millis(after_ms)?;
        self.cron
            .find_next_occurrence(&after, false)
            .ok()
            .map(|t| t.timestamp_millis())
    }
}

/// Validates an expression and returns its first firing after `now_ms` (`None` for an empty expression).
pub fn first_firing(expr: &str, now_ms: i64) -> Result<Option<i64>> {
    match Schedule::parse(expr)? {
        None => Ok(None),
        Some(s) => s
            .next_after_ms(now_ms)
            .map(Some)
            .ok_or_else(|| Error::invalid(format_args!("cron '{expr}' has no future firing."))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Weekday};

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .unwrap()
            .timestamp_millis()
    }

    fn weekday(ms: i64) -> Weekday {
        DateTime::<Utc>::from_timestamp_millis(ms)
            .unwrap()
            .weekday()
    }

    #[test]
    fn alibaba_quartz_style_example_fires_on_sun_mon_wed_fri() {
        let s = Schedule::parse("0 3 ? * 0,1,3,5").unwrap().unwrap();
        // Thu 2026-01-01 00:00 UTC.
        let mut t = at(2026, 1, 1, 0, 0);
        let mut days = Vec::new();
        for _ in 0..4 {
            t = s.next_after_ms(t).unwrap();
            days.push(weekday(t));
            assert_eq!(
                DateTime::<Utc>::from_timestamp_millis(t)
                    .unwrap()
                    .format("%H:%M")
                    .to_string(),
                "03:00"
            );
        }
        assert_eq!(
            days,
            [Weekday::Fri, Weekday::Sun, Weekday::Mon, Weekday::Wed]
        );
    }

    #[test]
    fn seven_is_sunday_and_plain_five_field_cron_works() {
        let s = Schedule::parse("0 3 * * 7").unwrap().unwrap();
        assert_eq!(
            weekday(s.next_after_ms(at(2026, 1, 1, 0, 0)).unwrap()),
            Weekday::Sun
        );
        let daily = Schedule::parse("0 0 * * *").unwrap().unwrap();
        assert_eq!(
            daily.next_after_ms(at(2026, 1, 1, 0, 0)).unwrap(),
            at(2026, 1, 2, 0, 0)
        );
        let every_minute = Schedule::parse("* * * * *").unwrap().unwrap();
        assert_eq!(
            every_minute
                .next_after_ms(at(2026, 1, 1, 0, 0) + 1)
                .unwrap(),
            at(2026, 1, 1, 0, 1)
        );
    }

    #[test]
    fn empty_means_no_schedule_and_garbage_is_refused() {
        assert!(Schedule::parse("").unwrap().is_none());
        assert!(Schedule::parse("  ").unwrap().is_none());
        for bad in [
            "0 0 3 ? * MON-FRI",
            "61 * * * *",
            "* * *",
            "hello",
            "0 0 30 2 *",
            &"*".repeat(200),
        ] {
            let err = Schedule::parse(bad).unwrap_err();
            assert_eq!(err.code(), "InvalidParameter", "{bad}");
        }
    }
}
