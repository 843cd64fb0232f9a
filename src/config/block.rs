//! Reading one source entry: the keys every source has are taken here, the rest is handed
//! to the vendor's own `Deserialize` type as if it were a map of only those keys.
//!
//! Both read from the YAML deserializer directly, so a vendor's type errors keep the field
//! path and the line (`sources[0].full_read_interval: invalid duration … at line 9 column
//! 25`). The vendor of an entry must be known before its keys are read, so the file is read
//! twice: first only each entry's `vendor` ([`vendors_of`]), then everything
//! ([`ConfigSeed`]). A key of another vendor is remembered, to be reported as such; a key
//! no vendor knows is an error here.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{
    self, DeserializeSeed, Deserializer, IgnoredAny, IntoDeserializer, MapAccess, SeqAccess,
    Visitor,
};

use super::values::{ByteSize, HumanDuration};
use super::{Catalogue, Vendors};

/// The keys every source has, as read.
#[derive(Default)]
pub(super) struct Common {
    pub(crate) name: Option<String>,
    pub(crate) vendor: Option<String>,
    pub(crate) url: Option<String>,
    pub(crate) refresh_interval: Option<HumanDuration>,
    pub(crate) timeout: Option<HumanDuration>,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) tls: Option<Tls>,
    pub(crate) max_response_bytes: Option<ByteSize>,
    pub(crate) max_pages: Option<u32>,
    pub(crate) max_rows: Option<u64>,
    pub(crate) max_read_bytes: Option<ByteSize>,
    pub(crate) max_in_flight: Option<usize>,
    pub(crate) alerting_age: Option<HumanDuration>,
    pub(crate) max_series: Option<usize>,
    pub(crate) hash_identities: bool,
    pub(crate) hash_key: Option<String>,
    pub(crate) hash_key_file: Option<std::path::PathBuf>,
    pub(crate) hash_key_env: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Tls {
    pub(crate) ca_file: Option<std::path::PathBuf>,
    #[serde(default)]
    pub(crate) insecure_skip_verify: bool,
}

/// The common keys, in the order an unknown-key error lists them.
const COMMON_KEYS: &[&str] = &[
    "name",
    "vendor",
    "url",
    "refresh_interval",
    "timeout",
    "labels",
    "tls",
    "max_response_bytes",
    "max_pages",
    "max_rows",
    "max_read_bytes",
    "max_in_flight",
    "alerting_age",
    "max_series",
    "hash_identities",
    "hash_key",
    "hash_key_file",
    "hash_key_env",
];

impl Common {
    /// Reads the value of `key`, one of [`COMMON_KEYS`].
    fn take<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
        vendors: &Catalogue,
    ) -> Result<(), A::Error> {
        match key {
            "name" => self.name = Some(map.next_value()?),
            "vendor" => self.vendor = Some(map.next_value_seed(VendorName(vendors))?),
            "url" => self.url = Some(map.next_value()?),
            "refresh_interval" => self.refresh_interval = Some(map.next_value()?),
            "timeout" => self.timeout = Some(map.next_value()?),
            "labels" => self.labels = map.next_value()?,
            "tls" => self.tls = Some(map.next_value()?),
            "max_response_bytes" => self.max_response_bytes = Some(map.next_value()?),
            "max_pages" => self.max_pages = Some(map.next_value()?),
            "max_rows" => self.max_rows = Some(map.next_value()?),
            "max_read_bytes" => self.max_read_bytes = Some(map.next_value()?),
            "max_in_flight" => self.max_in_flight = Some(map.next_value()?),
            "alerting_age" => self.alerting_age = Some(map.next_value()?),
            "max_series" => self.max_series = Some(map.next_value()?),
            "hash_identities" => self.hash_identities = map.next_value()?,
            "hash_key" => self.hash_key = Some(map.next_value()?),
            "hash_key_file" => self.hash_key_file = Some(map.next_value()?),
            "hash_key_env" => self.hash_key_env = Some(map.next_value()?),
            _ => unreachable!("{key} is not in COMMON_KEYS"),
        }
        Ok(())
    }
}

/// A `vendor` value, checked against the vendors there are.
struct VendorName<'v>(&'v Catalogue);

impl<'de> DeserializeSeed<'de> for VendorName<'_> {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for VendorName<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a vendor name")
    }

    /// Checked here, inside the YAML deserializer, so the error names `vendor` and its line.
    fn visit_str<E: de::Error>(self, name: &str) -> Result<String, E> {
        if self.0.vendors.iter().any(|v| v.name == name) {
            return Ok(name.to_string());
        }
        if self.0.left_out.contains(&name) {
            return Err(E::custom(format!(
                "vendor `{name}` is not in this build (it was compiled without the cargo feature \"{name}\")"
            )));
        }
        let names: Vec<&'static str> = self.0.vendors.iter().map(|v| v.name).collect();
        Err(E::custom(format!(
            "unknown variant `{name}`, expected {}",
            one_of(&names)
        )))
    }
}

/// "`a`", "`a` or `b`", "one of `a`, `b`, `c`", as serde words it.
fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.len() {
        0 => "nothing".into(),
        1 => quoted[0].clone(),
        2 => format!("{} or {}", quoted[0], quoted[1]),
        _ => format!("one of {}", quoted.join(", ")),
    }
}

/// One source entry as read.
pub(super) struct RawSource<B> {
    pub(crate) common: Common,
    pub(crate) block: B,
    /// The first key of another vendor's block.
    pub(crate) misplaced: Option<String>,
}

/// The `vendor` of each entry of `sources`, read leniently (everything else is ignored).
pub(super) fn vendors_of(text: &str) -> Result<Vec<Option<String>>, yaml_serde::Error> {
    #[derive(Deserialize)]
    struct Entry {
        vendor: Option<String>,
    }
    #[derive(Deserialize)]
    struct File {
        #[serde(default)]
        sources: Option<Vec<Entry>>,
    }
    let file: File = yaml_serde::from_str(text)?;
    Ok(file
        .sources
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.vendor)
        .collect())
}

/// The whole file: `sources`, each entry read for the vendor `vendors` names.
pub(super) struct ConfigSeed<'a, V> {
    pub(crate) vendors: &'a [Option<usize>],
    pub(crate) catalogue: &'a Catalogue,
    pub(crate) marker: PhantomData<V>,
}

impl<'de, V: Vendors> DeserializeSeed<'de> for ConfigSeed<'_, V> {
    type Value = Vec<RawSource<V::Block>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, V: Vendors> Visitor<'de> for ConfigSeed<'_, V> {
    type Value = Vec<RawSource<V::Block>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a configuration with a list of sources")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut sources = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if key != "sources" {
                return Err(de::Error::unknown_field(&key, &["sources"]));
            }
            sources = map.next_value_seed(SourcesSeed::<V> {
                vendors: self.vendors,
                catalogue: self.catalogue,
                marker: PhantomData,
            })?;
        }
        Ok(sources)
    }

    /// An empty file.
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
}

struct SourcesSeed<'a, V> {
    vendors: &'a [Option<usize>],
    catalogue: &'a Catalogue,
    marker: PhantomData<V>,
}

impl<'de, V: Vendors> DeserializeSeed<'de> for SourcesSeed<'_, V> {
    type Value = Vec<RawSource<V::Block>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, V: Vendors> Visitor<'de> for SourcesSeed<'_, V> {
    type Value = Vec<RawSource<V::Block>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of sources")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut sources = Vec::new();
        loop {
            let seed = SourceSeed::<V> {
                vendor: self.vendors.get(sources.len()).copied().flatten(),
                catalogue: self.catalogue,
                marker: PhantomData,
            };
            match seq.next_element_seed(seed)? {
                Some(source) => sources.push(source),
                None => return Ok(sources),
            }
        }
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
}

struct SourceSeed<'a, V> {
    vendor: Option<usize>,
    catalogue: &'a Catalogue,
    marker: PhantomData<V>,
}

impl<'de, V: Vendors> DeserializeSeed<'de> for SourceSeed<'_, V> {
    type Value = RawSource<V::Block>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, V: Vendors> Visitor<'de> for SourceSeed<'_, V> {
    type Value = RawSource<V::Block>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a source")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let mut common = Common::default();
        let mut keys = BlockKeys {
            map,
            common: &mut common,
            catalogue: self.catalogue,
            vendor: self.vendor,
            misplaced: None,
        };
        let block = match self.vendor {
            Some(index) => Some(V::read(index, BlockDeserializer(&mut keys))?),
            // Without a known vendor only the common keys are read: `vendor` itself fails
            // with the list of vendors there are, or is missing.
            None => {
                while let Some(IgnoredAny) = keys.next_key()? {
                    keys.next_value::<IgnoredAny>()?;
                }
                None
            }
        };
        let misplaced = keys.misplaced;
        if common.name.is_none() {
            return Err(de::Error::missing_field("name"));
        }
        match block {
            Some(block) => Ok(RawSource {
                common,
                block,
                misplaced,
            }),
            None => Err(de::Error::missing_field("vendor")),
        }
    }
}

/// The keys of one entry that belong to its vendor, as a map.
struct BlockKeys<'c, A> {
    map: A,
    common: &'c mut Common,
    catalogue: &'c Catalogue,
    vendor: Option<usize>,
    misplaced: Option<String>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for BlockKeys<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            let classify = KeyClass {
                catalogue: self.catalogue,
                vendor: self.vendor,
            };
            let Some((key, class)) = self.map.next_key_seed(classify)? else {
                return Ok(None);
            };
            match class {
                Class::Common => {
                    self.common.take(&key, &mut self.map, self.catalogue)?;
                }
                Class::Vendor => return seed.deserialize(key.into_deserializer()).map(Some),
                Class::OtherVendor => {
                    self.map.next_value::<IgnoredAny>()?;
                    self.misplaced.get_or_insert(key);
                }
            }
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

/// Whose a key of a source entry is.
enum Class {
    Common,
    /// The entry's vendor's.
    Vendor,
    /// Another vendor's: reported as not a setting of this vendor.
    OtherVendor,
}

/// Reads a key and says whose it is; a key nobody knows fails here, inside the YAML
/// deserializer, so the error carries the key's line.
struct KeyClass<'c> {
    catalogue: &'c Catalogue,
    vendor: Option<usize>,
}

impl<'de> DeserializeSeed<'de> for KeyClass<'_> {
    type Value = (String, Class);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyClass<'_> {
    type Value = (String, Class);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        let own = self
            .vendor
            .map_or(&[][..], |i| self.catalogue.vendors[i].fields);
        let class = if COMMON_KEYS.contains(&key) {
            Class::Common
        } else if own.contains(&key) {
            Class::Vendor
        } else if self
            .catalogue
            .vendors
            .iter()
            .any(|v| v.fields.contains(&key))
        {
            Class::OtherVendor
        } else {
            let mut expected: Vec<&str> = COMMON_KEYS.to_vec();
            expected.extend_from_slice(own);
            return Err(E::custom(format!(
                "unknown field `{key}`, expected {}",
                one_of(&expected)
            )));
        };
        Ok((key.to_string(), class))
    }
}

/// Presents [`BlockKeys`] to a vendor's `Deserialize` type as a map.
pub(crate) struct BlockDeserializer<'b, 'c, A>(&'b mut BlockKeys<'c, A>);

impl<'de, A: MapAccess<'de>> Deserializer<'de> for BlockDeserializer<'_, '_, A> {
    type Error = A::Error;

    fn deserialize_any<W: Visitor<'de>>(self, visitor: W) -> Result<W::Value, A::Error> {
        visitor.visit_map(self.0)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// The field names of a type that derives `Deserialize`: serde hands them to
/// `deserialize_struct`, and this deserializer only writes them down.
pub(crate) fn field_names<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    struct Probe<'f>(&'f mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;
        fn deserialize_any<W: Visitor<'de>>(self, _: W) -> Result<W::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<W: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: W,
        ) -> Result<W::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("fields read"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}
