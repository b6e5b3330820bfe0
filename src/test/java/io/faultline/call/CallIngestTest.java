package io.faultline.call;

import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.agroal.api.AgroalDataSource;
import jakarta.inject.Inject;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.empty;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.nullValue;

@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CallIngestTest {

    @Inject
    AgroalDataSource dataSource;

    private static String deployment() {
        return "dep-" + UUID.randomUUID();
    }

    @Test
    void a_batch_is_acknowledged_with_counts_and_stored_once_even_when_resent() throws Exception {
        String dep = deployment();
        Instant now = Instant.now();
        Payloads ok = Payloads.success("openai", "gpt-4o-mini", dep, now);
        Payloads limited = Payloads.failure("openai", "gpt-4o-mini", dep, now.plusMillis(5), 429, "RateLimitError",
                "OpenAIException - Rate limit reached for gpt-4o-mini on tokens per min (TPM)")
                .header("x-ratelimit-remaining-tokens", "0").header("retry-after", "1");
        String batch = Payloads.array(ok, limited);

        Api.ingest(batch).statusCode(200).body("received", equalTo(2)).body("accepted", equalTo(2))
                .body("duplicates", equalTo(0)).body("rejected", empty()).body("failures", equalTo(1))
                .body("episodesOpened", equalTo(1));
        Api.ingest(batch).statusCode(200).body("accepted", equalTo(0)).body("duplicates", equalTo(2))
                .body("failures", equalTo(0));

        assertThat(count("select count(*) from llm_calls where deployment = ?", dep)).isEqualTo(2);
        Api.failures("deployment=" + dep).statusCode(200).body("items", hasSize(1))
                .body("items[0].category", equalTo("PROVIDER")).body("items[0].type", equalTo("rate_limit"))
                .body("items[0].severity", equalTo("P4")).body("items[0].occurrences", equalTo(1))
                .body("items[0].evidence.retry_after", equalTo("1"))
                .body("items[0].evidence['x-ratelimit-remaining-tokens']", equalTo("0"))
                .body("items[0].impactScope.affected_requests", equalTo(1));
    }

    @Test
    void a_failed_attempt_and_its_fallback_sharing_one_litellm_call_id_are_two_calls_and_a_resend_is_none()
            throws Exception {
        // LiteLLM's router gives the fallback the failed attempt's litellm_call_id (and trace_id).
        String primary = deployment();
        String fallback = deployment();
        Instant now = Instant.now();
        String id = java.util.UUID.randomUUID().toString();
        Payloads timeout = Payloads.failure("openai", "gpt-4o-mini", primary, now, 408, "Timeout",
                "Request timed out.").set("litellm_call_id", id).set("id", id).set("trace_id", id);
        Payloads answered = Payloads.success("gemini", "gemini-2.5-flash-lite", fallback, now.plusSeconds(2))
                .set("litellm_call_id", id).set("trace_id", id);
        String batch = Payloads.array(timeout, answered);

        Api.ingest(batch).statusCode(200).body("accepted", equalTo(2)).body("duplicates", equalTo(0))
                .body("failures", equalTo(1));
        Api.ingest(batch).statusCode(200).body("accepted", equalTo(0)).body("duplicates", equalTo(2));
        assertThat(count("select count(*) from llm_calls where deployment = ?", primary)).isEqualTo(1);
        assertThat(count("select count(*) from llm_calls where deployment = ?", fallback)).isEqualTo(1);
    }

    @Test
    void the_retries_of_one_request_are_occurrences_of_its_episode_but_one_affected_request() throws Exception {
        // LiteLLM's retries of a request share its litellm_call_id and differ by start: three 429s of one request,
        // two in one batch and the third in the next, are three occurrences and one request.
        String dep = deployment();
        Instant start = Instant.now();
        String id = java.util.UUID.randomUUID().toString();
        List<Payloads> attempts = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            attempts.add(Payloads.failure("openai", "gpt-4o-mini", dep, start.plusSeconds(2L * i), 429,
                    "RateLimitError", "Rate limit reached").set("litellm_call_id", id).set("trace_id", id));
        }
        Payloads other = Payloads.failure("openai", "gpt-4o-mini", dep, start.plusSeconds(1), 429, "RateLimitError",
                "Rate limit reached");
        Api.ingest(Payloads.array(attempts.get(0), attempts.get(1), other)).statusCode(200)
                .body("accepted", equalTo(3));
        Api.failures("deployment=" + dep).body("items[0].occurrences", equalTo(3))
                .body("items[0].impactScope.affected_requests", equalTo(2));
        Api.ingest(Payloads.array(attempts.get(2))).statusCode(200).body("accepted", equalTo(1));
        Api.failures("deployment=" + dep).statusCode(200).body("items", hasSize(1))
                .body("items[0].occurrences", equalTo(4)).body("items[0].impactScope.affected_requests", equalTo(2));
        assertThat(count("select count(*) from failure_event_calls c join failure_events e using (failure_id)"
                + " where e.deployment = ?", dep)).isEqualTo(2);
    }

    @Test
    void calls_are_keyed_by_litellm_call_id_not_by_the_provider_response_id() throws Exception {
        String dep = deployment();
        Instant now = Instant.now();
        Payloads first = Payloads.success("openai", "gpt-4o-mini", dep, now).set("id", "chatcmpl-fixed");
        Payloads second = Payloads.success("openai", "gpt-4o-mini", dep, now).set("id", "chatcmpl-fixed");
        Api.ingest(Payloads.array(first, second)).statusCode(200).body("accepted", equalTo(2))
                .body("duplicates", equalTo(0));
        assertThat(count("select count(*) from llm_calls where deployment = ?", dep)).isEqualTo(2);
    }

    @Test
    void a_bad_item_is_rejected_by_index_and_the_good_ones_are_kept() throws Exception {
        String dep = deployment();
        Instant now = Instant.now();
        Payloads good = Payloads.success("anthropic", "claude-sonnet", dep, now);
        Payloads wrongType = Payloads.success("anthropic", "claude-sonnet", dep, now).set("prompt_tokens", "many");
        Payloads noId = Payloads.success("anthropic", "claude-sonnet", dep, now).without("id")
                .without("litellm_call_id");
        String body = "[" + good.node() + "," + wrongType.node() + ",42," + noId.node() + "]";

        Api.ingest(body).statusCode(200).body("accepted", equalTo(1)).body("rejected", hasSize(3))
                .body("rejected.index", contains(1, 2, 3))
                .body("rejected[0].reason", containsString("prompt_tokens"))
                .body("rejected[0].callId", equalTo(wrongType.id()))
                .body("rejected[1].reason", containsString("object"))
                .body("rejected[2].reason", containsString("id: required"));
        assertThat(count("select count(*) from llm_calls where deployment = ?", dep)).isEqualTo(1);
    }

    @Test
    void repeated_failures_fold_into_one_episode_and_a_storm_raises_its_severity() throws Exception {
        String dep = deployment();
        Instant start = Instant.now();
        List<Payloads> storm = new ArrayList<>();
        for (int i = 0; i < 25; i++) {
            storm.add(Payloads.failure("openai", "gpt-4o-mini", dep, start.plusSeconds(i), 429, "RateLimitError",
                    "Rate limit reached").user("user-" + (i % 5)));
        }
        // Two requests of ten, then the rest: the episode must span batches.
        Api.ingest(Payloads.array(storm.subList(0, 10).toArray(Payloads[]::new))).statusCode(200);
        Api.failures("deployment=" + dep).body("items[0].severity", equalTo("P4"))
                .body("items[0].occurrences", equalTo(10));
        Api.ingest(Payloads.array(storm.subList(10, 25).toArray(Payloads[]::new))).statusCode(200)
                .body("episodesOpened", equalTo(0));

        Api.failures("deployment=" + dep).statusCode(200).body("items", hasSize(1))
                .body("items[0].occurrences", equalTo(25)).body("items[0].severity", equalTo("P3"))
                .body("items[0].impactScope.affected_users", equalTo(5))
                .body("items[0].impactScope.affected_requests", equalTo(25));
        assertThat(count("select count(*) from failure_event_calls c join failure_events e using (failure_id)"
                + " where e.deployment = ?", dep)).isEqualTo(25);
    }

    @Test
    void a_failure_after_the_dedup_window_opens_a_new_episode() {
        String dep = deployment();
        Instant start = Instant.now().minusSeconds(3600);
        Api.ingest(Payloads.array(Payloads.failure("gemini", "gemini-2.5-flash", dep, start, 503,
                "ServiceUnavailableError", "The service is currently unavailable."))).statusCode(200);
        Api.ingest(Payloads.array(Payloads.failure("gemini", "gemini-2.5-flash", dep, start.plusSeconds(301 + 1), 503,
                "ServiceUnavailableError", "The service is currently unavailable."))).statusCode(200)
                .body("episodesOpened", equalTo(1));
        Api.failures("deployment=" + dep).body("items", hasSize(2)).body("items.type", contains("outage", "outage"));
    }

    @Test
    void an_outage_on_every_deployment_of_a_provider_is_p1_while_one_deployment_is_not() {
        // A provider name of its own, so that deployments of other tests do not count as "every deployment".
        String provider = "prov" + Long.toHexString(System.nanoTime());
        String east = deployment();
        String west = deployment();
        Instant start = Instant.now();
        Api.ingest(Payloads.array(Payloads.success(provider, "m", east, start), Payloads.success(provider, "m", west,
                start))).statusCode(200);
        List<Payloads> eastDown = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            eastDown.add(Payloads.failure(provider, "m", east, start.plusSeconds(1 + i), 500, "InternalServerError",
                    "Internal server error"));
        }
        Api.ingest(Payloads.array(eastDown.toArray(Payloads[]::new))).statusCode(200);
        Api.failures("deployment=" + east).body("items[0].type", equalTo("outage"))
                .body("items[0].severity", equalTo("P3"));

        Api.ingest(Payloads.array(Payloads.failure(provider, "m", west, start.plusSeconds(20), 503,
                "ServiceUnavailableError", "Service unavailable"))).statusCode(200);
        Api.failures("provider=" + provider + "&type=outage").body("items", hasSize(2))
                .body("items.severity", contains("P1", "P1"));
    }

    @Test
    void successful_calls_produce_no_failure() {
        String dep = deployment();
        Instant now = Instant.now();
        Api.ingest(Payloads.array(Payloads.success("openai", "gpt-4o-mini", dep, now),
                Payloads.success("anthropic", "claude", dep, now), Payloads.success("gemini", "gemini", dep, now)))
                .statusCode(200).body("accepted", equalTo(3)).body("failures", equalTo(0));
        Api.failures("deployment=" + dep).body("items", empty());
    }

    @Test
    void failures_page_with_a_cursor_without_gaps_or_repeats() {
        String provider = "page" + Long.toHexString(System.nanoTime());
        Instant start = Instant.now();
        List<Payloads> calls = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            calls.add(Payloads.failure(provider, "m", "dep-" + i, start.plusSeconds(i), 500, "InternalServerError",
                    "boom"));
        }
        Api.ingest(Payloads.array(calls.toArray(Payloads[]::new))).statusCode(200);
        List<String> seen = new ArrayList<>();
        String cursor = null;
        String first = null;
        do {
            var page = Api.failures("provider=" + provider + "&limit=3" + (cursor == null ? "" : "&cursor=" + cursor))
                    .statusCode(200).extract().jsonPath();
            seen.addAll(page.getList("items.deployment", String.class));
            cursor = page.getString("nextCursor");
            first = first == null ? cursor : first;
        } while (cursor != null);
        assertThat(seen).containsExactly("dep-6", "dep-5", "dep-4", "dep-3", "dep-2", "dep-1", "dep-0");
        // Each list orders by its own column: another list's cursor is refused, not read as a position in this one.
        for (String other : new String[] { "/api/v1/failures/correlations", "/api/v1/predictions",
                "/api/v1/traffic-policy/actions" }) {
            given().queryParam("cursor", first).when().get(other).then().statusCode(400)
                    .contentType("application/problem+json").body("errors[0].field", equalTo("cursor"))
                    .body("detail", containsString("issued by the failures list"));
        }
    }

    @Test
    void one_failure_is_readable_by_id_and_an_unknown_id_is_a_404_problem() {
        String dep = deployment();
        Api.ingest(Payloads.array(Payloads.failure("anthropic", "claude", dep, Instant.now(), 529,
                "InternalServerError", "AnthropicException - {\"type\":\"error\",\"error\":{\"type\":"
                        + "\"overloaded_error\",\"message\":\"Overloaded\"}}"))).statusCode(200);
        String id = Api.failures("deployment=" + dep).extract().path("items[0].failureId");
        // The filters' values are names in any case; the deployment is the caller's own and matched as written.
        Api.failures("deployment=" + dep + "&type=OVERLOADED&category=Provider&provider=ANTHROPIC")
                .statusCode(200).body("items.failureId", contains(id));
        io.restassured.RestAssured.when().get("/api/v1/failures/" + id).then().statusCode(200)
                .body("type", equalTo("overloaded")).body("failureId", equalTo(id))
                .body("firstSeen", notNullValue()).body("lastSeen", notNullValue());
        io.restassured.RestAssured.when().get("/api/v1/failures/" + UUID.randomUUID()).then().statusCode(404)
                .contentType("application/problem+json").body("status", equalTo(404));
        io.restassured.RestAssured.when().get("/api/v1/failures/not-a-uuid").then().statusCode(400)
                .contentType("application/problem+json").body("errors[0].field", equalTo("failureId"));
    }

    @Test
    void raw_prompts_and_answers_are_not_stored() throws Exception {
        String dep = deployment();
        Payloads call = Payloads.success("openai", "gpt-4o-mini", dep, Instant.now())
                .answer("Contact me at jane.doe@example.com", "stop");
        Api.ingest(Payloads.array(call)).statusCode(200);
        try (Connection c = dataSource.getConnection();
                PreparedStatement st = c.prepareStatement("select llm_calls::text from llm_calls where call_id = ?")) {
            st.setString(1, call.id());
            try (ResultSet rs = st.executeQuery()) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).doesNotContain("jane.doe").doesNotContain("capital of France")
                        .contains(dep);
            }
        }
        Api.failures("deployment=" + dep).body("nextCursor", nullValue());
    }

    /**
     * A provider is stored in the label alphabet (a-z, 0-9, '_', '.', '-'), else as "other": no ':' reaches the
     * predictor's latency scope keys ("m:" provider ":" model group), so a provider "a:b" of group "c" cannot take
     * the baseline of provider "a" of group "b:c". A model group keeps its ':' (Ollama's "llama3:8b").
     */
    @Test
    void a_provider_outside_the_label_alphabet_is_stored_as_other_and_a_model_group_keeps_its_colon()
            throws Exception {
        String dep = deployment();
        Api.ingest(Payloads.array(Payloads.success("a:b", "c", dep, Instant.now()),
                Payloads.success("a", "b:c", dep, Instant.now().plusMillis(1)))).statusCode(200)
                .body("accepted", equalTo(2));
        assertThat(count("select count(*) from llm_calls where deployment = ? and provider = 'other'"
                + " and model_group = 'c'", dep)).isEqualTo(1);
        assertThat(count("select count(*) from llm_calls where deployment = ? and provider = 'a'"
                + " and model_group = 'b:c'", dep)).isEqualTo(1);
        assertThat(count("select count(*) from llm_calls where deployment = ? and provider like '%:%'", dep))
                .isZero();
    }

    /**
     * The proxy that made a call (the plugin's {@code faultline.proxy_id}) is stored as a label: lower case, the
     * label alphabet, at most 40 characters, a longer one cut to 31 and its CRC-32 (the plugin's rule too, same
     * vector in test_faultline_callback.py). A call naming none has none: the one default proxy.
     */
    @Test
    void the_proxy_id_is_stored_as_a_label_and_a_call_naming_none_has_none() throws Exception {
        String dep = deployment();
        Instant at = Instant.now();
        Payloads plain = Payloads.success("openai", "m", dep, at).proxy("litellm-7d9f8b-x2k4q");
        Payloads spaced = Payloads.success("openai", "m", dep, at.plusMillis(1)).proxy("  LiteLLM Proxy/EU ");
        Payloads longName = Payloads.success("openai", "m", dep, at.plusMillis(2))
                .proxy("ip-10-0-1-23.eu-west-1.compute.internal.example.com");
        Payloads none = Payloads.success("openai", "m", dep, at.plusMillis(3));
        Payloads blank = Payloads.success("openai", "m", dep, at.plusMillis(4)).proxy(" ");
        Payloads wrongType = Payloads.success("openai", "m", dep, at.plusMillis(5));
        wrongType.node().putObject("faultline").putArray("proxy_id").add("a");
        Api.ingest(Payloads.array(plain, spaced, longName, none, blank, wrongType)).statusCode(200)
                .body("accepted", equalTo(5)).body("rejected.index", contains(5))
                .body("rejected[0].reason", containsString("proxy_id"));
        assertThat(proxyOf(plain)).isEqualTo("litellm-7d9f8b-x2k4q");
        assertThat(proxyOf(spaced)).isEqualTo("litellm_proxy_eu");
        assertThat(proxyOf(longName)).isEqualTo("ip-10-0-1-23.eu-west-1.compute.-8a5c9cd5");
        assertThat(proxyOf(none)).isNull();
        assertThat(proxyOf(blank)).isNull();
    }

    private String proxyOf(Payloads call) throws Exception {
        try (Connection c = dataSource.getConnection();
                PreparedStatement st = c.prepareStatement("select proxy_id from llm_calls where call_id = ?")) {
            st.setString(1, call.id());
            try (ResultSet rs = st.executeQuery()) {
                assertThat(rs.next()).as("call %s stored", call.id()).isTrue();
                return rs.getString(1);
            }
        }
    }

    private long count(String sql, String arg) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement st = c.prepareStatement(sql)) {
            st.setString(1, arg);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }
}
