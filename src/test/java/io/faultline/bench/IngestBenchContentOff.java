package io.faultline.bench;

import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;

import java.util.Map;

/** {@link IngestBench} with content detection off: the baseline of the content detectors' cost, same process. */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@TestProfile(IngestBenchContentOff.ContentOff.class)
class IngestBenchContentOff extends IngestBench {

    public static class ContentOff implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("faultline.content.enabled", "false");
        }
    }

    @Override
    String variant() {
        return "content-off";
    }
}
