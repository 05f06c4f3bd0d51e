//! Manifests and indexes, Docker schema2 and OCI, and picking one for a platform.

use super::digest::Digest;
use super::platform::Platform;
use serde::Deserialize;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// An uncompressed layer (OCI image spec, layer media types): what a build stores until a push compresses it.
pub const MEDIA_OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const DOCKER_SCHEMA1: [&str; 2] = ["application/vnd.docker.distribution.manifest.v1+prettyjws", "application/vnd.docker.distribution.manifest.v1+json"];

/// The largest manifest or index rde reads: the distribution registry refuses to
/// store bigger ones (4 MiB), containers/image reads no more, containerd 4,393,216
/// bytes. Real manifests are a few kilobytes.
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// Everything rde can read, for the registry's Accept header.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// A descriptor as rde uses it: its digest validated (sha256), its platform in
/// rde's terms. Read from the wire through oci-spec's `image::Descriptor`.
#[derive(Clone, Debug, PartialEq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    pub platform: Option<Platform>,
    pub urls: Vec<String>,
}

/// A single-platform manifest (OCI image manifest or Docker schema 2).
#[derive(Clone, Debug)]
pub struct ImageManifest {
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// An OCI image index or Docker manifest list.
#[derive(Clone, Debug)]
pub struct ImageIndex {
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
}

impl TryFrom<&oci_spec::image::Descriptor> for Descriptor {
    type Error = ManifestError;
    fn try_from(d: &oci_spec::image::Descriptor) -> Result<Descriptor, ManifestError> {
        let digest = d.digest().to_string();
        Ok(Descriptor {
            media_type: d.media_type().to_string(),
            digest: digest.parse().map_err(|_| ManifestError::BadDigest(digest))?,
            size: d.size(),
            platform: d.platform().as_ref().map(|p| Platform {
                os: p.os().to_string(),
                architecture: p.architecture().to_string(),
                variant: p.variant().clone(),
            }),
            urls: d.urls().clone().unwrap_or_default(),
        })
    }
}

impl ImageManifest {
    fn from_spec(m: &oci_spec::image::ImageManifest) -> Result<ImageManifest, ManifestError> {
        Ok(ImageManifest {
            media_type: m.media_type().as_ref().map(ToString::to_string),
            config: m.config().try_into()?,
            layers: m.layers().iter().map(Descriptor::try_from).collect::<Result<_, _>>()?,
        })
    }
}

impl ImageIndex {
    fn from_spec(i: &oci_spec::image::ImageIndex) -> Result<ImageIndex, ManifestError> {
        Ok(ImageIndex {
            media_type: i.media_type().as_ref().map(ToString::to_string),
            manifests: i.manifests().iter().map(Descriptor::try_from).collect::<Result<_, _>>()?,
        })
    }
}

#[derive(Debug)]
pub enum Manifest {
    Image(ImageManifest),
    Index(ImageIndex),
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("Docker schema1 manifests are not supported (the image is too old); hint: re-push it with a current tool")]
    Schema1,
    #[error("unsupported manifest media type {0:?}")]
    UnsupportedType(String),
    #[error("malformed manifest: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("malformed manifest: digest {0:?} is not a sha256 digest")]
    BadDigest(String),
    #[error("no manifest for platform {wanted} (available: {available})")]
    NoPlatform { wanted: Platform, available: String },
    #[error("the manifest is {0} bytes, more than the {MAX_MANIFEST_BYTES} a registry accepts")]
    TooLarge(usize),
}

/// The layer compressions rde can unpack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// The OCI image spec's layer media type for this compression.
    pub fn oci_layer_media_type(self) -> &'static str {
        match self {
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
            Compression::None => MEDIA_OCI_LAYER_TAR,
        }
    }

    /// From a layer's media type; `None` when the media type says nothing (the
    /// unpacker then sniffs the magic bytes).
    pub fn from_media_type(media_type: &str) -> Option<Compression> {
        if media_type.ends_with("+zstd") || media_type.ends_with(".zstd") {
            Some(Compression::Zstd)
        } else if media_type.ends_with("+gzip") || media_type.ends_with(".gzip") {
            Some(Compression::Gzip)
        } else if media_type.ends_with(".tar") || media_type.ends_with("v1.tar") {
            Some(Compression::None)
        } else {
            None
        }
    }
}

impl Manifest {
    /// Parse a manifest body, using the Content-Type when the body does not say.
    pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Manifest, ManifestError> {
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(ManifestError::TooLarge(bytes.len()));
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Probe {
            #[serde(default)]
            schema_version: u32,
            #[serde(default)]
            media_type: Option<String>,
            #[serde(default)]
            manifests: Option<serde_json::Value>,
        }
        let probe: Probe = serde_json::from_slice(bytes)?;
        let content_type = content_type.map(|c| c.split(';').next().unwrap_or("").trim());
        let media_type = probe.media_type.as_deref().or(content_type.filter(|c| !c.is_empty()));
        if probe.schema_version == 1 || media_type.is_some_and(|m| DOCKER_SCHEMA1.contains(&m)) {
            return Err(ManifestError::Schema1);
        }
        // The wire format is oci-spec's (Docker schema 2 has the same shape).
        let index = |bytes: &[u8]| -> Result<Manifest, ManifestError> { Ok(Manifest::Index(ImageIndex::from_spec(&serde_json::from_slice(bytes)?)?)) };
        let image = |bytes: &[u8]| -> Result<Manifest, ManifestError> { Ok(Manifest::Image(ImageManifest::from_spec(&serde_json::from_slice(bytes)?)?)) };
        match media_type {
            Some(DOCKER_LIST | OCI_INDEX) => index(bytes),
            Some(DOCKER_MANIFEST | OCI_MANIFEST) => image(bytes),
            // OCI allows omitting mediaType; the shape tells.
            None | Some("application/json") | Some("application/octet-stream") if probe.manifests.is_some() => index(bytes),
            None | Some("application/json") | Some("application/octet-stream") => image(bytes),
            Some(other) => Err(ManifestError::UnsupportedType(other.to_string())),
        }
    }
}

impl ImageIndex {
    /// The entry for `wanted`, preferring an exact variant match.
    pub fn select(&self, wanted: &Platform) -> Result<&Descriptor, ManifestError> {
        self.manifests
            .iter()
            .filter(|d| d.platform.as_ref().is_some_and(|p| wanted.matches(p)))
            .max_by_key(|d| wanted.preference(d.platform.as_ref().unwrap()))
            .ok_or_else(|| ManifestError::NoPlatform {
                wanted: wanted.clone(),
                available: self
                    .manifests
                    .iter()
                    .filter_map(|d| d.platform.as_ref())
                    .filter(|p| p.os != "unknown")
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    const D3: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";

    fn index() -> ImageIndex {
        let json = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[
              {{"mediaType":"{OCI_MANIFEST}","digest":"{D1}","size":1,"platform":{{"os":"linux","architecture":"amd64"}}}},
              {{"mediaType":"{OCI_MANIFEST}","digest":"{D2}","size":1,"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}},
              {{"mediaType":"{OCI_MANIFEST}","digest":"{D3}","size":1,"platform":{{"os":"unknown","architecture":"unknown"}}}}]}}"#
        );
        match Manifest::parse(json.as_bytes(), None).unwrap() {
            Manifest::Index(i) => i,
            _ => panic!("not an index"),
        }
    }

    #[test]
    fn selects_platforms() {
        let idx = index();
        assert_eq!(idx.select(&"linux/amd64".parse().unwrap()).unwrap().digest.to_string(), D1);
        assert_eq!(idx.select(&"linux/arm64".parse().unwrap()).unwrap().digest.to_string(), D2);
        let err = idx.select(&"linux/s390x".parse().unwrap()).unwrap_err().to_string();
        assert!(err.contains("linux/s390x") && err.contains("linux/amd64, linux/arm64/v8") && !err.contains("unknown"), "{err}");
    }

    #[test]
    fn parses_by_media_type_or_shape() {
        let m = format!(r#"{{"schemaVersion":2,"config":{{"mediaType":"x","digest":"{D1}","size":3}},"layers":[]}}"#);
        assert!(matches!(Manifest::parse(m.as_bytes(), Some(DOCKER_MANIFEST)), Ok(Manifest::Image(_))));
        assert!(matches!(Manifest::parse(m.as_bytes(), None), Ok(Manifest::Image(_))));
        let s1 = r#"{"schemaVersion":1,"name":"x"}"#;
        assert!(matches!(Manifest::parse(s1.as_bytes(), None), Err(ManifestError::Schema1)));
        assert!(matches!(Manifest::parse(b"{}", Some("text/html")), Err(ManifestError::UnsupportedType(_))));
        assert!(matches!(Manifest::parse(b"not json", None), Err(ManifestError::Malformed(_))));
    }

    #[test]
    fn compression_from_media_types() {
        use Compression::*;
        assert_eq!(Compression::from_media_type("application/vnd.docker.image.rootfs.diff.tar.gzip"), Some(Gzip));
        assert_eq!(Compression::from_media_type("application/vnd.oci.image.layer.v1.tar+gzip"), Some(Gzip));
        assert_eq!(Compression::from_media_type("application/vnd.oci.image.layer.v1.tar+zstd"), Some(Zstd));
        assert_eq!(Compression::from_media_type("application/vnd.oci.image.layer.v1.tar"), Some(None));
        assert_eq!(Compression::from_media_type("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"), Some(Gzip));
        assert_eq!(Compression::from_media_type("weird"), Option::None);
    }
}
