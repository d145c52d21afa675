//! The create form's date picker: a month grid with a cursor. Arrows move by day and week,
//! PgUp/PgDn by month, `t` jumps to today; days before today cannot be chosen (the cursor stops
//! at today), and nothing goes past 9999-12-31.

use time::{Date, Duration, Month};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatePicker {
    pub cursor: Date,
    pub today: Date,
}

impl DatePicker {
    pub fn new(today: Date, initial: Date) -> DatePicker {
        DatePicker {
            cursor: initial.max(today),
            today,
        }
    }

    fn set(&mut self, d: Option<Date>) {
        let d = d.unwrap_or(Date::MAX);
        self.cursor = d.max(self.today).min(last_day());
    }

    pub fn move_days(&mut self, n: i64) {
        self.set(self.cursor.checked_add(Duration::days(n)));
    }

    /// The same day of another month (clamped to that month's length).
    pub fn move_months(&mut self, n: i32) {
        let months = self.cursor.year() * 12 + i32::from(u8::from(self.cursor.month())) - 1 + n;
        let year = months.div_euclid(12);
        let month = Month::try_from(u8::try_from(months.rem_euclid(12) + 1).unwrap_or(1))
            .unwrap_or(Month::January);
        let day = self.cursor.day().min(month.length(year));
        self.set(Date::from_calendar_date(year, month, day).ok());
    }

    pub fn go_today(&mut self) {
        self.cursor = self.today;
    }

    pub fn selectable(&self, d: Date) -> bool {
        d >= self.today
    }

    /// The weeks of the cursor's month, Monday first; `None` pads the first and last week.
    pub fn weeks(&self) -> Vec<[Option<Date>; 7]> {
        let (year, month) = (self.cursor.year(), self.cursor.month());
        let mut weeks = Vec::new();
        let mut week = [None; 7];
        for day in 1..=month.length(year) {
            let Ok(d) = Date::from_calendar_date(year, month, day) else {
                continue;
            };
            let col = usize::from(d.weekday().number_days_from_monday());
            week[col] = Some(d);
            if col == 6 {
                weeks.push(week);
                week = [None; 7];
            }
        }
        if week.iter().any(Option::is_some) {
            weeks.push(week);
        }
        weeks
    }
}

fn last_day() -> Date {
    Date::from_calendar_date(9999, Month::December, 31).unwrap_or(Date::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn days_before_today_cannot_be_chosen() {
        let mut p = DatePicker::new(date!(2026 - 11 - 25), date!(2026 - 11 - 20));
        assert_eq!(p.cursor, date!(2026 - 11 - 25));
        p.move_days(-1);
        assert_eq!(p.cursor, date!(2026 - 11 - 25));
        p.move_days(-7);
        assert_eq!(p.cursor, date!(2026 - 11 - 25));
        p.move_months(-1);
        assert_eq!(p.cursor, date!(2026 - 11 - 25));
        assert!(!p.selectable(date!(2026 - 11 - 24)));
    }

    #[test]
    fn arrows_weeks_and_months_move_the_cursor() {
        let mut p = DatePicker::new(date!(2026 - 11 - 25), date!(2026 - 11 - 25));
        p.move_days(1);
        assert_eq!(p.cursor, date!(2026 - 11 - 26));
        p.move_days(7);
        assert_eq!(p.cursor, date!(2026 - 12 - 03));
        p.move_months(1);
        assert_eq!(p.cursor, date!(2027 - 01 - 03));
        p.cursor = date!(2027 - 01 - 31);
        p.move_months(1);
        assert_eq!(p.cursor, date!(2027 - 02 - 28));
        p.move_months(-2);
        assert_eq!(p.cursor, date!(2026 - 12 - 28));
        p.go_today();
        assert_eq!(p.cursor, date!(2026 - 11 - 25));
    }

    #[test]
    fn the_far_edge_is_9999_12_31() {
        let mut p = DatePicker::new(date!(2026 - 11 - 25), date!(9999 - 12 - 30));
        p.move_days(5);
        assert_eq!(p.cursor, date!(9999 - 12 - 31));
        p.move_months(3);
        assert_eq!(p.cursor, date!(9999 - 12 - 31));
    }

    #[test]
    fn a_month_grid_starts_on_monday() {
        let p = DatePicker::new(date!(2026 - 11 - 25), date!(2026 - 11 - 25));
        let weeks = p.weeks();
        // November 2026 starts on a Sunday: the first week holds only the 1st, in column 7.
        assert_eq!(weeks[0][6], Some(date!(2026 - 11 - 01)));
        assert!(weeks[0][..6].iter().all(Option::is_none));
        assert_eq!(weeks.len(), 6);
        assert_eq!(weeks[5][0], Some(date!(2026 - 11 - 30)));
    }
}
