//! How long a source waits before its next refresh.

use std::time::Duration;

/// Sleep after the `failures`-th consecutive failure: exponential from a tenth of the
/// interval (at most 5 s), capped at the interval, with "equal jitter" (half fixed, half
/// random), and never shorter than what the vendor asked for (within the interval).
pub(crate) fn backoff(
    failures: u32,
    interval: Duration,
    retry_after: Option<Duration>,
) -> Duration {
    let base = (interval / 10).clamp(Duration::from_millis(100), Duration::from_secs(5));
    let exponent = failures.saturating_sub(1).min(20);
    let ceiling = base.saturating_mul(1 << exponent).min(interval);
    let jittered = ceiling / 2 + ceiling.mul_f64(fastrand::f64() / 2.0);
    jittered.max(retry_after.unwrap_or_default().min(interval))
}

/// The interval with ±5 % jitter, so sources started together drift apart.
pub(crate) fn jittered_interval(interval: Duration) -> Duration {
    interval.mul_f64(0.95 + fastrand::f64() * 0.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped_by_the_interval() {
        let interval = Duration::from_secs(900);
        for _ in 0..200 {
            let first = backoff(1, interval, None);
            assert!(
                first >= Duration::from_millis(2500) && first <= Duration::from_secs(5),
                "{first:?}"
            );
            let fourth = backoff(4, interval, None);
            assert!(
                fourth >= Duration::from_secs(20) && fourth <= Duration::from_secs(40),
                "{fourth:?}"
            );
            let many = backoff(30, interval, None);
            assert!(many >= interval / 2 && many <= interval, "{many:?}");
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_interval() {
        let interval = Duration::from_secs(60);
        assert!(backoff(1, interval, Some(Duration::from_secs(30))) >= Duration::from_secs(30));
        assert!(backoff(1, interval, Some(Duration::from_secs(3600))) <= interval);
    }

    #[test]
    fn interval_jitter_stays_within_five_percent() {
        for _ in 0..200 {
            let d = jittered_interval(Duration::from_secs(100));
            assert!(
                d >= Duration::from_secs(95) && d <= Duration::from_secs(105),
                "{d:?}"
            );
        }
    }
}
