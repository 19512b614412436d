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

    /// An id greater than `previous` (a message's parent, perhaps made by another
    /// instance, whose clock may be ahead): this one when it already is, else one
    /// random step past `previous`, so that two ids made after the same `previous` (a
    /// reply and its regeneration in one millisecond) still differ.
    pub fn after(self, previous: Option<Id>) -> Id {
        match previous {
            Some(prev) if prev >= self => {
                let random = prev.0.random() + (self.0.random() & u128::from(u32::MAX)) + 1;
                if random < 1 << 80 {
                    Id(Ulid::from_parts(prev.0.timestamp_ms(), random))
                } else {
                    prev.0.increment().map(Id).unwrap_or(self)
                }
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
    use ulid::Ulid;

    #[test]
    fn after_keeps_order_within_a_millisecond() {
        let first = Id::lowest_at(5).after(None);
        let second = Id::lowest_at(5).after(Some(first));
        assert!(second > first);
        let later = Id::lowest_at(6).after(Some(second));
        assert_eq!(later, Id::lowest_at(6));
    }

    #[test]
    fn ids_made_after_one_parent_differ() {
        let parent = Id(Ulid::from_parts(9, 1000));
        let (reply, again) = (Id(Ulid::from_parts(9, 7)), Id(Ulid::from_parts(8, 12345)));
        let (reply, again) = (reply.after(Some(parent)), again.after(Some(parent)));
        assert!(reply > parent && again > parent);
        assert_ne!(reply, again, "a regenerated reply must not take the first reply's id");
        // A newer id is kept as it is.
        let newer = Id(Ulid::from_parts(9, 2000));
        assert_eq!(newer.after(Some(parent)), newer);
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
