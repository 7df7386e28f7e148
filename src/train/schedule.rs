//! Learning-rate schedules as functions of the generator step.
use super::Schedule;

/// The learning rate at generator step `step` (0-based) of a `total`-step run.
pub fn lr(base: f64, schedule: Schedule, decay_start: u64, step: u64, total: u64) -> f64 {
    match schedule {
        Schedule::Constant => base,
        Schedule::Linear => {
            if step < decay_start || total <= decay_start {
                base
            } else {
                base * (1.0 - (step - decay_start) as f64 / (total - decay_start) as f64)
            }
        }
    }
}

/// `base` halved once per `every` steps completed, not below `floor` once halving has begun.
pub fn halved(base: f64, step: u64, every: u64, floor: f64) -> f64 {
    if every == 0 || step < every {
        return base;
    }
    (base * 0.5f64.powi((step / every).min(1024) as i32)).max(floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_decay() {
        assert_eq!(lr(1.0, Schedule::Linear, 50, 10, 100), 1.0);
        assert_eq!(lr(1.0, Schedule::Linear, 50, 75, 100), 0.5);
        assert_eq!(lr(1.0, Schedule::Linear, 50, 100, 100), 0.0);
        assert_eq!(lr(2.0, Schedule::Constant, 0, 99, 100), 2.0);
    }
}
