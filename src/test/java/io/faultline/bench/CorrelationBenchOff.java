package io.faultline.bench;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;

import java.util.List;
import java.util.Map;

/** {@link CorrelationBench}'s ingest run with correlation off: the baseline of its cost, same JVM, same database. */
@QuarkusTest
@TestProfile(CorrelationBenchOff.CorrelationOff.class)
class CorrelationBenchOff extends CorrelationBench {

    public static class CorrelationOff implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("faultline.correlate.enabled", "false");
        }

        @Override
        public List<TestResourceEntry> testResources() {
            return CorrelationBench.Database.ENTRY;
        }

        @Override
        public boolean disableGlobalTestResources() {
            return true;
        }
    }

    @Override
    String variant() {
        return "off";
    }
}
