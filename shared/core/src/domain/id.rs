use crate::ports::{Clock, Random, random};
use ulid::Ulid;

/// A ULID: time-ordered, so ids sort by creation in every store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(Ulid);

impl Id {
    pub fn new(clock: &dyn Clock, random: &dyn Random) -> Id {
        let ms = (clock.now().unix_timestamp_nanos() / 1_000_000) as u64;
        Id(Ulid::from_parts(ms, u128::from_le_bytes(random::bytes(random))))
    }

    /// An id greater than `previous` when both fall in the same millisecond, so ids
    /// made by one process sort in the order they were made.
    pub fn after(self, previous: Option<Id>) -> Id {
        match previous {
            Some(prev) if prev.0.timestamp_ms() >= self.0.timestamp_ms() => {
                prev.0.increment().map(Id).unwrap_or(self)
            }
            _ => self,
        }
    }

    /// Parses the canonical 26-character form; anything else is `None`.
    pub fn parse(s: &str) -> Option<Id> {
        if s.len() != 26 {
            return None;
        }
        Ulid::from_string(s).ok().filter(|u| u.to_string() == s).map(Id)
    }

    /// The smallest id that a given unix-millisecond instant can produce.
    pub fn lowest_at(ms: u64) -> Id {
        Id(Ulid::from_parts(ms, 0))
    }

    /// The largest id that a given unix-millisecond instant can produce.
    pub fn highest_at(ms: u64) -> Id {
        Id(Ulid::from_parts(ms, u128::MAX))
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl serde::Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Id::parse(&s).ok_or_else(|| serde::de::Error::custom("not a valid id"))
    }
}

#[cfg(test)]
mod tests {
    use super::Id;

    #[test]
    fn after_keeps_order_within_a_millisecond() {
        let first = Id::lowest_at(5).after(None);
        let second = Id::lowest_at(5).after(Some(first));
        assert!(second > first);
        let later = Id::lowest_at(6).after(Some(second));
        assert_eq!(later, Id::lowest_at(6));
    }

    #[test]
    fn parse_is_strict() {
        let s = "01JDQX5ZQ7B3V1G8K2M4N6P8R0";
        assert_eq!(Id::parse(s).unwrap().to_string(), s);
        for bad in
            ["", "abc", "01jdqx5zq7b3v1g8k2m4n6p8r0", "01JDQX5ZQ7B3V1G8K2M4N6P8R0X", "../../etc/passwd"]
        {
            assert!(Id::parse(bad).is_none(), "{bad}");
        }
    }
}
