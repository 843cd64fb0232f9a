//! An optional number in the space of the number: `Option<i64>` takes 16 bytes, and an
//! archive holds six optional numbers (126,000 archives at 100,000 devices). Absent is a
//! value no report gives: a timestamp of `i64::MIN` milliseconds, `u64::MAX` bytes, or a
//! ratio that is not a number (JSON has no NaN). It reads and writes as an `Option`, so
//! the saved state's format does not change.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A number type with a value that stands for "absent".
pub(crate) trait Absent: Copy {
    const ABSENT: Self;
    fn is_absent(self) -> bool;
}

impl Absent for i64 {
    const ABSENT: i64 = i64::MIN;
    fn is_absent(self) -> bool {
        self == i64::MIN
    }
}

impl Absent for u64 {
    const ABSENT: u64 = u64::MAX;
    fn is_absent(self) -> bool {
        self == u64::MAX
    }
}

impl Absent for f64 {
    const ABSENT: f64 = f64::NAN;
    fn is_absent(self) -> bool {
        self.is_nan()
    }
}

/// An `Option<T>` stored as a `T`.
#[derive(Clone, Copy)]
pub(crate) struct Packed<T>(T);

impl<T: Absent> Packed<T> {
    pub(crate) fn new(value: Option<T>) -> Self {
        Packed(value.unwrap_or(T::ABSENT))
    }

    pub(crate) fn get(self) -> Option<T> {
        (!self.0.is_absent()).then_some(self.0)
    }
}

impl<T: Absent + PartialEq> PartialEq for Packed<T> {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl<T: Absent + std::fmt::Debug> std::fmt::Debug for Packed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

impl<T: Absent + Serialize> Serialize for Packed<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(serializer)
    }
}

impl<'de, T: Absent + Deserialize<'de>> Deserialize<'de> for Packed<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(deserializer).map(Packed::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_a_value_or_none_in_the_size_of_the_value() {
        assert_eq!(std::mem::size_of::<Packed<i64>>(), 8);
        assert_eq!(Packed::new(Some(-5_i64)).get(), Some(-5));
        assert_eq!(Packed::<i64>::new(None).get(), None);
        assert_eq!(Packed::new(Some(0_u64)).get(), Some(0));
        assert_eq!(Packed::<u64>::new(None).get(), None);
        assert_eq!(Packed::new(Some(0.25_f64)).get(), Some(0.25));
        assert_eq!(Packed::<f64>::new(None).get(), None);
        // Absent ratios are equal, though NaN is not equal to itself.
        assert_eq!(Packed::<f64>::new(None), Packed::new(None));
    }

    #[test]
    fn saved_as_an_option() {
        let values = [Packed::new(Some(1_602_533_872_084_i64)), Packed::new(None)];
        let json = serde_json::to_string(&values).unwrap();
        assert_eq!(json, "[1602533872084,null]");
        let back: Vec<Packed<i64>> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, values);
    }
}
