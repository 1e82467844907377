//! Body sizes per profile and codec, raw and compressed: the table `paybench sizes` prints.

use std::io::Write;

use crate::codec::Codec;
use crate::payload::{generate, Profile};
use crate::payment::process_at;
use crate::{Error, Result};

/// Sizes of one message in both codecs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SizeRow {
    /// Payload profile.
    pub profile: Profile,
    /// `request` or `response`.
    pub message: &'static str,
    /// Protobuf body bytes.
    pub protobuf_bytes: usize,
    /// JSON body bytes.
    pub json_bytes: usize,
    /// protobuf gzip (level 6) bytes.
    pub protobuf_gzip_bytes: usize,
    /// JSON gzip (level 6) bytes.
    pub json_gzip_bytes: usize,
    /// protobuf zstd (level 3) bytes.
    pub protobuf_zstd_bytes: usize,
    /// JSON zstd (level 3) bytes.
    pub json_zstd_bytes: usize,
}

impl SizeRow {
    /// JSON bytes over protobuf bytes, uncompressed.
    pub fn json_over_protobuf(&self) -> f64 {
        self.json_bytes as f64 / self.protobuf_bytes as f64
    }
}

/// gzip at level 6, the default of gzip(1) and of most HTTP servers.
pub fn gzip_len(bytes: &[u8]) -> Result<usize> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    encoder.write_all(bytes).map_err(|e| Error::io("gzip", e))?;
    Ok(encoder.finish().map_err(|e| Error::io("gzip", e))?.len())
}

/// zstd at level 3, its default.
pub fn zstd_len(bytes: &[u8]) -> Result<usize> {
    Ok(zstd::bulk::compress(bytes, 3).map_err(|e| Error::io("zstd", e))?.len())
}

/// Measures request and response sizes for every profile (payload `index` 0 of `seed`).
pub fn measure(seed: u64) -> Result<Vec<SizeRow>> {
    let mut rows = Vec::new();
    for profile in Profile::ALL {
        let req = generate(profile, seed, 0);
        // A fixed clock: `processed_at` is part of the response, and its varint length must not
        // make the sizes move between runs.
        let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600);
        let resp = process_at(&req, now)?;
        for (message, protobuf, json) in [
            ("request", Codec::Protobuf.encode(&req)?, Codec::Json.encode(&req)?),
            ("response", Codec::Protobuf.encode(&resp)?, Codec::Json.encode(&resp)?),
        ] {
            rows.push(SizeRow {
                profile,
                message,
                protobuf_bytes: protobuf.len(),
                json_bytes: json.len(),
                protobuf_gzip_bytes: gzip_len(&protobuf)?,
                json_gzip_bytes: gzip_len(&json)?,
                protobuf_zstd_bytes: zstd_len(&protobuf)?,
                json_zstd_bytes: zstd_len(&json)?,
            });
        }
    }
    Ok(rows)
}

/// Renders the rows as a markdown table.
pub fn markdown(rows: &[SizeRow]) -> String {
    let mut out = String::from(
        "| profile | message | protobuf B | JSON B | JSON/protobuf | protobuf gzip B | JSON gzip B | gzip JSON/protobuf | protobuf zstd B | JSON zstd B |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.2}x | {} | {} | {:.2}x | {} | {} |\n",
            r.profile,
            r.message,
            r.protobuf_bytes,
            r.json_bytes,
            r.json_over_protobuf(),
            r.protobuf_gzip_bytes,
            r.json_gzip_bytes,
            r.json_gzip_bytes as f64 / r.protobuf_gzip_bytes as f64,
            r.protobuf_zstd_bytes,
            r.json_zstd_bytes,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_larger_and_compression_shrinks_large() {
        let rows = measure(crate::payload::DEFAULT_SEED).unwrap();
        assert_eq!(rows.len(), 2 * Profile::ALL.len());
        for row in &rows {
            assert!(row.json_bytes > row.protobuf_bytes, "{row:?}");
        }
        let large = rows.iter().find(|r| r.profile == Profile::Large && r.message == "request").unwrap();
        assert!(large.json_gzip_bytes < large.json_bytes / 2, "{large:?}");
        assert_eq!(markdown(&rows).lines().count(), 2 + rows.len());
    }
}
