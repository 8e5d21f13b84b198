//! Scheduled reports: when a subscription to a report is sent, and which
//! period each sending covers.

use super::Error;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};

/// How often a report is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frequency {
    /// Every morning, about the day before.
    Daily,
    /// Every Monday morning, about the week before (Monday to Sunday).
    Weekly,
    /// On the first of every month, about the month before.
    Monthly,
    /// At the close of given dates each year (month and day, e.g. 31 March,
    /// 31 August, 31 December): the morning after each, about the time
    /// since the date before it.
    Dates(Vec<(u32, u32)>),
}

/// The hour, local to the institution, reports are sent at.
pub const SEND_AT: u32 = 7;

impl Frequency {
    pub fn parse(field: &str, name: &str, dates: &[String]) -> Result<Frequency, Error> {
        Ok(match name {
            "daily" => Frequency::Daily,
            "weekly" => Frequency::Weekly,
            "monthly" => Frequency::Monthly,
            "dates" => {
                let mut parsed = vec![];
                for (i, d) in dates.iter().enumerate() {
                    let bad = || Error::invalid(format!("dates[{i}]"), "use MM-DD, e.g. 03-31");
                    let (m, day) = d.split_once('-').ok_or_else(bad)?;
                    let (m, day): (u32, u32) = (m.parse().map_err(|_| bad())?, day.parse().map_err(|_| bad())?);
                    // 2024 is a leap year: 02-29 is a date that exists.
                    NaiveDate::from_ymd_opt(2024, m, day).ok_or_else(bad)?;
                    parsed.push((m, day));
                }
                parsed.sort_unstable();
                parsed.dedup();
                if parsed.is_empty() {
                    return Err(Error::invalid("dates", "give at least one date"));
                }
                Frequency::Dates(parsed)
            }
            _ => return Err(Error::invalid(field, "use daily, weekly, monthly or dates")),
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Frequency::Daily => "daily",
            Frequency::Weekly => "weekly",
            Frequency::Monthly => "monthly",
            Frequency::Dates(_) => "dates",
        }
    }

    /// The dates as `MM-DD`, for `dates`.
    pub fn dates(&self) -> Vec<String> {
        match self {
            Frequency::Dates(d) => d.iter().map(|(m, day)| format!("{m:02}-{day:02}")).collect(),
            _ => vec![],
        }
    }

    /// The next sending strictly after `after`, at [`SEND_AT`] in `tz`.
    pub fn next_after(&self, after: DateTime<Utc>, tz: chrono_tz::Tz) -> DateTime<Utc> {
        let today = after.with_timezone(&tz).date_naive();
        // The first sending day from today on whose time is after `after`.
        (0..800)
            .map(|n| today + Duration::days(n))
            .filter(|day| self.sends_on(*day))
            .map(|day| at_send_time(day, tz))
            .find(|t| *t > after)
            .unwrap_or(after + Duration::days(1))
    }

    fn sends_on(&self, day: NaiveDate) -> bool {
        match self {
            Frequency::Daily => true,
            Frequency::Weekly => day.weekday() == chrono::Weekday::Mon,
            Frequency::Monthly => day.day() == 1,
            Frequency::Dates(dates) => {
                let closed = day - Duration::days(1);
                dates.contains(&(closed.month(), closed.day()))
            }
        }
    }

    /// The period a sending on `sent` covers, as local dates `[from, to]`
    /// (both whole days).
    pub fn period(&self, sent: DateTime<Utc>, tz: chrono_tz::Tz) -> (NaiveDate, NaiveDate) {
        let day = sent.with_timezone(&tz).date_naive();
        let yesterday = day - Duration::days(1);
        match self {
            Frequency::Daily => (yesterday, yesterday),
            Frequency::Weekly => {
                let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
                (monday - Duration::days(7), monday - Duration::days(1))
            }
            Frequency::Monthly => {
                let first = day.with_day(1).unwrap_or(day);
                let last_month = (first - Duration::days(1)).with_day(1).unwrap_or(first);
                (last_month, first - Duration::days(1))
            }
            Frequency::Dates(_) => {
                // From the day after the listed date before (a year at most)
                // to the listed date just closed.
                let from = (1..=366)
                    .map(|n| yesterday - Duration::days(n))
                    .find(|d| self.sends_on(*d + Duration::days(1)))
                    .unwrap_or(yesterday - Duration::days(365));
                (from + Duration::days(1), yesterday)
            }
        }
    }
}

fn at_send_time(day: NaiveDate, tz: chrono_tz::Tz) -> DateTime<Utc> {
    let local = day.and_time(NaiveTime::from_hms_opt(SEND_AT, 0, 0).unwrap_or_default());
    tz.from_local_datetime(&local).earliest().map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bog(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        chrono_tz::America::Bogota.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn sendings_fall_on_their_days_at_seven() {
        let tz = chrono_tz::America::Bogota;
        // Wednesday 18 March 2026, 09:00.
        let now = bog(2026, 3, 18, 9);
        assert_eq!(Frequency::Daily.next_after(now, tz), bog(2026, 3, 19, 7));
        assert_eq!(Frequency::Daily.next_after(bog(2026, 3, 18, 6), tz), bog(2026, 3, 18, 7));
        assert_eq!(Frequency::Weekly.next_after(now, tz), bog(2026, 3, 23, 7));
        assert_eq!(Frequency::Monthly.next_after(now, tz), bog(2026, 4, 1, 7));
        let closes = Frequency::parse("frequency", "dates", &["12-31".into(), "03-31".into(), "08-31".into()]).unwrap();
        assert_eq!(closes.dates(), ["03-31", "08-31", "12-31"]);
        assert_eq!(closes.next_after(now, tz), bog(2026, 4, 1, 7));
        assert_eq!(closes.next_after(bog(2026, 9, 1, 8), tz), bog(2027, 1, 1, 7));
        assert!(Frequency::parse("frequency", "dates", &["02-30".into()]).is_err());
        assert!(Frequency::parse("frequency", "hourly", &[]).is_err());
    }

    #[test]
    fn each_sending_covers_the_period_before_it() {
        let tz = chrono_tz::America::Bogota;
        let date = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        assert_eq!(Frequency::Daily.period(bog(2026, 3, 19, 7), tz), (date(3, 18), date(3, 18)));
        assert_eq!(Frequency::Weekly.period(bog(2026, 3, 23, 7), tz), (date(3, 16), date(3, 22)));
        assert_eq!(Frequency::Monthly.period(bog(2026, 4, 1, 7), tz), (date(3, 1), date(3, 31)));
        let closes = Frequency::parse("f", "dates", &["03-31".into(), "08-31".into(), "12-31".into()]).unwrap();
        assert_eq!(closes.period(bog(2026, 9, 1, 7), tz), (date(4, 1), date(8, 31)));
    }
}
