package io.faultline.bench;

import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;

import java.util.Map;

/**
 * {@link IngestBench} with content detection on but the learned injection classifier off: against the content-on run
 * of the same process it is the classifier's cost to ingest throughput (issue 16 allows at most 5%).
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@TestProfile(IngestBenchInjectionModelOff.ModelOff.class)
class IngestBenchInjectionModelOff extends IngestBench {

    public static class ModelOff implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("faultline.injection.model-enabled", "false");
        }
    }

    @Override
    String variant() {
        return "content-on-model-off";
    }
}
