//! Units: the admissions office, the library, psychological support... Each has
//! its own queue, people, timezone and business hours.

use super::{Error, UnitId};
use chrono::{DateTime, NaiveTime, Utc, Weekday};

/// A unit of the institution.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub id: UnitId,
    pub slug: Slug,
    pub name: String,
    pub timezone: chrono_tz::Tz,
    pub business_hours: BusinessHours,
    /// The satisfaction survey its resolved cases get.
    pub survey: super::survey::SurveySettings,
    /// How its queue is handed out.
    pub routing: super::routing::RoutingSettings,
    /// The fields its cases carry.
    pub custom_fields: Vec<super::custom_field::FieldDef>,
    /// Whether the host asks for the authorisation to process data.
    pub privacy: super::privacy::PrivacySettings,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A unit to create, already validated.
#[derive(Debug, Clone)]
pub struct NewUnit {
    pub slug: Slug,
    pub name: String,
    pub timezone: chrono_tz::Tz,
    pub business_hours: BusinessHours,
    pub survey: super::survey::SurveySettings,
    pub routing: super::routing::RoutingSettings,
    pub custom_fields: Vec<super::custom_field::FieldDef>,
    pub privacy: super::privacy::PrivacySettings,
}

/// Changes to a unit; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UnitPatch {
    pub name: Option<String>,
    pub timezone: Option<chrono_tz::Tz>,
    pub business_hours: Option<BusinessHours>,
    pub survey: Option<super::survey::SurveySettings>,
    pub routing: Option<super::routing::RoutingSettings>,
    pub custom_fields: Option<Vec<super::custom_field::FieldDef>>,
    pub privacy: Option<super::privacy::PrivacySettings>,
}

/// A validated URL-safe identifier: lowercase ASCII letters, digits and dashes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        let ok_chars = value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if value.is_empty() || value.len() > 64 {
            return Err(Error::invalid(field, "must be 1 to 64 characters"));
        }
        if !ok_chars || value.starts_with('-') || value.ends_with('-') || value.contains("--") {
            return Err(Error::invalid(
                field,
                "must be lowercase letters, digits and single dashes, e.g. `mesa-de-ayuda`",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Parses an IANA timezone name such as `America/Bogota`.
pub fn parse_timezone(field: &str, value: &str) -> Result<chrono_tz::Tz, Error> {
    value
        .parse::<chrono_tz::Tz>()
        .map_err(|_| Error::invalid(field, format!("`{value}` is not an IANA timezone such as America/Bogota")))
}

/// Weekly opening hours in the unit's own timezone, plus closed dates.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct BusinessHours {
    /// Opening intervals per weekday; a weekday absent is closed all day.
    pub weekly: Vec<DayHours>,
    /// Dates (YYYY-MM-DD) when the unit is closed, e.g. public holidays.
    #[serde(default)]
    pub holidays: Vec<chrono::NaiveDate>,
}

/// The intervals a unit is open on one weekday.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DayHours {
    pub day: Weekday,
    pub open: NaiveTime,
    pub close: NaiveTime,
}

impl BusinessHours {
    /// Monday to Friday, 08:00 to 17:00: what most offices start with.
    pub fn office_default() -> Self {
        let day = |day| DayHours {
            day,
            open: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
            close: NaiveTime::from_hms_opt(17, 0, 0).unwrap_or_default(),
        };
        BusinessHours {
            weekly: [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri]
                .into_iter()
                .map(day)
                .collect(),
            holidays: vec![],
        }
    }

    /// Checks intervals are well ordered and do not overlap on one day.
    pub fn validate(&self, field: &str) -> Result<(), Error> {
        for (i, hours) in self.weekly.iter().enumerate() {
            if hours.open >= hours.close {
                return Err(Error::invalid(format!("{field}.weekly[{i}]"), "open must be earlier than close"));
            }
            let overlaps = self.weekly.iter().enumerate().any(|(j, other)| {
                j != i && other.day == hours.day && other.open < hours.close && hours.open < other.close
            });
            if overlaps {
                return Err(Error::invalid(format!("{field}.weekly[{i}]"), "overlaps another interval"));
            }
        }
        Ok(())
    }

    /// Whether the unit is open at `at`, seen in its timezone.
    pub fn is_open(&self, tz: chrono_tz::Tz, at: DateTime<Utc>) -> bool {
        use chrono::Datelike;
        let local = at.with_timezone(&tz);
        if self.holidays.contains(&local.date_naive()) {
            return false;
        }
        let time = local.time();
        self.weekly.iter().any(|h| h.day == local.weekday() && h.open <= time && time < h.close)
    }

    /// When the unit next opens after `at` (or `at` itself if open), in its
    /// timezone; none if it never does within two weeks.
    pub fn next_open(&self, tz: chrono_tz::Tz, at: DateTime<Utc>) -> Option<DateTime<chrono_tz::Tz>> {
        use chrono::{Datelike, TimeZone};
        if self.is_open(tz, at) {
            return Some(at.with_timezone(&tz));
        }
        let local = at.with_timezone(&tz);
        for days in 0..15 {
            let date = local.date_naive() + chrono::Days::new(days);
            if self.holidays.contains(&date) {
                continue;
            }
            let mut opens: Vec<NaiveTime> =
                self.weekly.iter().filter(|h| h.day == date.weekday()).map(|h| h.open).collect();
            opens.sort();
            for open in opens {
                if days == 0 && open <= local.time() {
                    continue;
                }
                if let Some(when) = tz.from_local_datetime(&date.and_time(open)).earliest() {
                    return Some(when);
                }
            }
        }
        None
    }

    /// The open intervals of one local date, in UTC, sorted; none on holidays.
    fn intervals_on(&self, tz: chrono_tz::Tz, date: chrono::NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        use chrono::{Datelike, TimeZone};
        if self.holidays.contains(&date) {
            return vec![];
        }
        let at =
            |time: NaiveTime| tz.from_local_datetime(&date.and_time(time)).earliest().map(|t| t.with_timezone(&Utc));
        let mut spans: Vec<_> = self
            .weekly
            .iter()
            .filter(|h| h.day == date.weekday())
            .filter_map(|h| Some((at(h.open)?, at(h.close)?)))
            .filter(|(open, close)| open < close)
            .collect();
        spans.sort();
        spans
    }

    /// The instant `open_time` of business hours after `from`: the clock
    /// only runs while the unit is open. None if it does not open enough
    /// within a year (no hours at all, say).
    pub fn add_open_time(
        &self,
        tz: chrono_tz::Tz,
        from: DateTime<Utc>,
        open_time: chrono::Duration,
    ) -> Option<DateTime<Utc>> {
        let mut left = open_time;
        let first = from.with_timezone(&tz).date_naive();
        for days in 0..=LOOKAHEAD_DAYS {
            for (open, close) in self.intervals_on(tz, first + chrono::Days::new(days)) {
                let start = open.max(from);
                if start >= close {
                    continue;
                }
                if close - start >= left {
                    return Some(start + left);
                }
                left -= close - start;
            }
        }
        None
    }

    /// The closing times of the first `n` business days (days with opening
    /// hours that are not holidays) after the local date of `from`; none
    /// if there are not that many within a year.
    pub fn business_day_closes(&self, tz: chrono_tz::Tz, from: DateTime<Utc>, n: usize) -> Option<Vec<DateTime<Utc>>> {
        let first = from.with_timezone(&tz).date_naive();
        let mut closes = Vec::with_capacity(n);
        for days in 1..=LOOKAHEAD_DAYS {
            if closes.len() == n {
                break;
            }
            if let Some((_, close)) = self.intervals_on(tz, first + chrono::Days::new(days)).last() {
                closes.push(*close);
            }
        }
        (closes.len() == n).then_some(closes)
    }

    /// How much business time lies between `from` and `to` (zero when `to`
    /// is not later), counting at most a year.
    pub fn open_time_between(&self, tz: chrono_tz::Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> chrono::Duration {
        let mut total = chrono::Duration::zero();
        if to <= from {
            return total;
        }
        let first = from.with_timezone(&tz).date_naive();
        for days in 0..=LOOKAHEAD_DAYS {
            let date = first + chrono::Days::new(days);
            for (open, close) in self.intervals_on(tz, date) {
                let (start, end) = (open.max(from), close.min(to));
                if start < end {
                    total += end - start;
                }
            }
            if date > to.with_timezone(&tz).date_naive() {
                break;
            }
        }
        total
    }
}

/// How far ahead business-time arithmetic looks.
const LOOKAHEAD_DAYS: u64 = 366;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_next_opening_skips_nights_weekends_and_holidays() {
        let tz = chrono_tz::America::Bogota;
        let hours = BusinessHours {
            holidays: vec![chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default()],
            ..BusinessHours::office_default()
        };
        let at = |d: u32, h: u32| tz.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap().with_timezone(&Utc);
        // Friday 27 at 20:00 -> Monday 30 is a holiday -> Tuesday 1 December at 08:00.
        let next = hours.next_open(tz, at(27, 20)).map(|t| t.naive_local().to_string());
        assert_eq!(next.as_deref(), Some("2026-12-01 08:00:00"));
        // Thursday 26 at 06:00 -> the same day at 08:00; at 10:00 it is open now.
        assert_eq!(
            hours.next_open(tz, at(26, 6)).map(|t| t.naive_local().to_string()).as_deref(),
            Some("2026-11-26 08:00:00")
        );
        assert_eq!(hours.next_open(tz, at(26, 10)).map(|t| t.with_timezone(&Utc)), Some(at(26, 10)));
        let never = BusinessHours { weekly: vec![], holidays: vec![] };
        assert!(never.next_open(tz, at(26, 10)).is_none());
    }

    #[test]
    fn business_time_runs_only_while_open() {
        let tz = chrono_tz::America::Bogota;
        let hours = BusinessHours {
            holidays: vec![chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default()],
            ..BusinessHours::office_default()
        };
        let at = |d: u32, h: u32, m: u32| tz.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap().with_timezone(&Utc);
        let local = |t: Option<DateTime<Utc>>| t.map(|t| t.with_timezone(&tz).naive_local().to_string());
        let hours_of = chrono::Duration::hours;
        // Thursday 26 at 10:00 plus 4 h -> 14:00 the same day.
        assert_eq!(local(hours.add_open_time(tz, at(26, 10, 0), hours_of(4))).as_deref(), Some("2026-11-26 14:00:00"));
        // Friday 27 at 16:00 plus 2 h: 1 h on Friday, Monday 30 is a holiday,
        // so the other hour ends Tuesday 1 December at 09:00.
        assert_eq!(local(hours.add_open_time(tz, at(27, 16, 0), hours_of(2))).as_deref(), Some("2026-12-01 09:00:00"));
        // Starting at night counts from the next opening.
        assert_eq!(local(hours.add_open_time(tz, at(26, 22, 0), hours_of(1))).as_deref(), Some("2026-11-27 09:00:00"));
        // Exactly a day's hours ends at closing time.
        assert_eq!(local(hours.add_open_time(tz, at(26, 8, 0), hours_of(9))).as_deref(), Some("2026-11-26 17:00:00"));
        let between = |a, b| hours.open_time_between(tz, a, b).num_minutes();
        assert_eq!(between(at(26, 10, 0), at(26, 14, 30)), 270);
        assert_eq!(between(at(27, 16, 0), at(28, 12, 0)), 60);
        assert_eq!(between(at(26, 22, 0), at(27, 8, 30)), 30);
        assert_eq!(between(at(27, 12, 0), at(26, 12, 0)), 0);
        // A whole week: Wednesday 25 8:00 to Wednesday 2 December 8:00
        // holds 4 working days of 9 h (Monday is a holiday).
        let week = hours.open_time_between(tz, at(25, 8, 0), at(25, 8, 0) + chrono::Duration::days(7));
        assert_eq!(week.num_hours(), 36);
        let never = BusinessHours { weekly: vec![], holidays: vec![] };
        assert!(never.add_open_time(tz, at(26, 10, 0), hours_of(1)).is_none());
    }

    #[test]
    fn slugs() {
        for ok in ["admisiones", "mesa-de-ayuda", "unit-2"] {
            assert!(Slug::parse("slug", ok).is_ok(), "{ok}");
        }
        for bad in ["", "Admisiones", "a b", "-a", "a-", "a--b", "ñandú", "a/b"] {
            assert!(Slug::parse("slug", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timezones() {
        assert!(parse_timezone("timezone", "America/Bogota").is_ok());
        assert!(parse_timezone("timezone", "Mars/Olympus").is_err());
    }

    #[test]
    fn business_hours_in_local_time() {
        let hours = BusinessHours::office_default();
        let tz: chrono_tz::Tz = "America/Bogota".parse().expect("valid tz");
        // Monday 2026-11-23 13:30 UTC is 08:30 in Bogotá (UTC-5): open.
        assert!(hours.is_open(tz, Utc.with_ymd_and_hms(2026, 11, 23, 13, 30, 0).unwrap()));
        // 12:30 UTC is 07:30 in Bogotá: closed.
        assert!(!hours.is_open(tz, Utc.with_ymd_and_hms(2026, 11, 23, 12, 30, 0).unwrap()));
        // Saturday: closed.
        assert!(!hours.is_open(tz, Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap()));
        let mut holiday = hours.clone();
        holiday.holidays.push(chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        assert!(!holiday.is_open(tz, Utc.with_ymd_and_hms(2026, 11, 23, 15, 0, 0).unwrap()));
    }

    #[test]
    fn overlapping_hours_are_rejected() {
        let mut hours = BusinessHours::office_default();
        hours.weekly.push(DayHours {
            day: Weekday::Mon,
            open: NaiveTime::from_hms_opt(16, 0, 0).unwrap(),
            close: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
        });
        assert!(hours.validate("business_hours").is_err());
    }
}
