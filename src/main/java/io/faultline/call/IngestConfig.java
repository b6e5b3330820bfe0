package io.faultline.call;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/** Limits of the ingest endpoint. */
@ConfigMapping(prefix = "faultline.ingest")
public interface IngestConfig {

    /** Calls per request; LiteLLM's generic_api logger sends at most 512. Larger batches get 413. */
    @WithDefault("1000")
    int maxBatchItems();

    /** Body size per request; larger bodies get a 413 problem telling the sender to split. */
    @WithDefault("10485760")
    long maxBodyBytes();
}
