package io.faultline.call;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.Min;
import org.hibernate.validator.constraints.time.DurationMin;

/** Limits of the ingest endpoint. */
@ConfigMapping(prefix = "faultline.ingest")
public interface IngestConfig {

    /** Calls per request; LiteLLM's generic_api logger sends at most 512. Larger batches get 413. */
    @WithDefault("1000")
    @Min(1)
    int maxBatchItems();

    /**
     * JSON values (objects, arrays, strings, numbers, booleans, nulls) one call may hold: a LiteLLM payload holds a
     * few hundred (a 10 KB conversation of 18 tool calls with 8 tools offered: 555). A call over it is rejected by its
     * index (classify: a 413) without being read into memory, where its tree would take some 30 times its bytes.
     */
    @WithDefault("100000")
    @Min(1)
    int maxCallValues();

    /** Body size per request; larger bodies get a 413 problem telling the sender to split. */
    @WithDefault("10485760")
    @Min(1)
    long maxBodyBytes();

    /**
     * The only {@code requester_metadata} keys stored with a call (text values masked); callers control that
     * object, so everything else is dropped. The defaults are the keys features read: the batch id and the
     * retrieval sample.
     */
    @WithDefault("batch_id,job_id,retrieval")
    java.util.List<String> requesterMetadataKeys();

    /**
     * How far past this service's clock a call may end: a sender's clock that runs fast, within this, is tolerated;
     * a call ending later is rejected by its index. Stored, it would open a token window ahead of time (muting that
     * deployment's windows until the clock caught up), sort first in every episode list, and land in the default
     * partition, which keeps its day's partition from being created.
     */
    @WithDefault("5m")
    @DurationMin(millis = 0)
    java.time.Duration maxClockSkew();

    /**
     * Request bodies being received or processed at once, in declared bytes (a chunked body counts as its endpoint's
     * limit), across every endpoint that takes one. Past it a request is answered 503 with Retry-After before its
     * body is read; a single body larger than this is still taken when nothing else is in flight. A parsed batch
     * takes several times its bytes in heap: 16 concurrent 10 MiB batches ran a 512 MiB heap out of memory.
     */
    @WithDefault("50331648")
    @Min(1)
    long maxBytesInFlight();

    /**
     * How long a request may take to send its whole body. A client that is slower is answered 408 and its
     * connection closed, so that connections trickling a byte now and then cannot hold the service's memory.
     */
    @WithDefault("30s")
    @DurationMin(millis = 1)
    java.time.Duration bodyTimeout();
}
