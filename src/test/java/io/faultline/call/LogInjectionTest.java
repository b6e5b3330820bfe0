package io.faultline.call;

import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.jboss.logmanager.ExtLogRecord;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

/** A caller's text written into a log line cannot start a line of its own (a forged entry). */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class LogInjectionTest {

    @Inject
    TestClock clock;

    /** The formatted messages of every record logged while it is attached to the root logger. */
    static final class Captured extends Handler {
        final List<String> messages = new CopyOnWriteArrayList<>();

        @Override
        public void publish(LogRecord record) {
            messages.add(record instanceof ExtLogRecord ext ? ext.getFormattedMessage() : record.getMessage());
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    }

    @Test
    void a_call_id_with_line_breaks_is_logged_on_one_line_when_a_rule_fails_on_it() {
        String marker = "forged-" + UUID.randomUUID();
        // LiteLLM takes the call id from the request (litellm_call_id) as the caller sent it.
        String callId = "call-1\r\n2026-12-07 12:00:00,000 INFO  [io.faultline] " + marker + " admin key rotated";
        // The rule's errors are logged once a minute: a day ahead, this one is the first of its minute.
        Instant at = Instant.now().plus(Duration.ofDays(1));
        Payloads call = Payloads.failure("openai", ProbeRule.THROWS, "dep-" + UUID.randomUUID(), at.minusSeconds(5),
                429, "RateLimitError", "Rate limit reached").set("litellm_call_id", callId);
        Captured captured = new Captured();
        Logger root = Logger.getLogger("");
        root.addHandler(captured);
        clock.set(at);
        try {
            Api.ingest(Payloads.array(call)).statusCode(200).body("accepted", equalTo(1));
        } finally {
            clock.release();
            root.removeHandler(captured);
        }

        List<String> naming = captured.messages.stream().filter(m -> m != null && m.contains(marker)).toList();
        assertThat(naming).isNotEmpty();
        assertThat(naming).allSatisfy(m -> assertThat(m).doesNotContain("\n").doesNotContain("\r"));
    }
}
