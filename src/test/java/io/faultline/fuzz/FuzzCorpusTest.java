package io.faultline.fuzz;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** The generator itself: reproducible from its seed, and it produces what the campaign claims to send. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class FuzzCorpusTest {

    private static final Instant NOW = Instant.parse("2026-11-28T10:00:00Z");

    @Test
    void the_same_seed_and_index_give_the_same_bytes_and_another_seed_does_not() {
        PlantedSecrets secrets = PlantedSecrets.of(7);
        FuzzCorpus a = new FuzzCorpus(7, secrets, NOW);
        FuzzCorpus b = new FuzzCorpus(7, secrets, NOW);
        FuzzCorpus other = new FuzzCorpus(8, PlantedSecrets.of(8), NOW);
        int differing = 0;
        for (int i = 0; i < 200; i++) {
            FuzzRequest x = a.request(i);
            FuzzRequest y = b.request(i);
            assertThat(y.path()).isEqualTo(x.path());
            assertThat(y.mutation()).isEqualTo(x.mutation());
            assertThat(y.body()).isEqualTo(x.body());
            if (!other.request(i).mutation().equals(x.mutation())) {
                differing++;
            }
        }
        assertThat(differing).isGreaterThan(100);
    }

    @Test
    void a_thousand_requests_reach_every_endpoint_and_every_kind_of_mutation() {
        FuzzCorpus corpus = new FuzzCorpus(20_261_128L, PlantedSecrets.of(20_261_128L), NOW);
        Set<String> endpoints = new HashSet<>();
        Set<String> kinds = new HashSet<>();
        Set<String> hostile = new HashSet<>();
        for (int i = 0; i < 1_000; i++) {
            FuzzRequest request = corpus.request(i);
            endpoints.add(request.endpoint());
            for (String part : request.mutation().split(" ")) {
                kinds.add(part.contains(":") ? part.substring(0, part.indexOf(':')) : part);
                if (part.startsWith("hostile")) {
                    hostile.add(part.split(":")[part.startsWith("hostile:") ? 2 : 1]);
                }
            }
        }
        assertThat(endpoints).contains("calls", "classify", "signals/embeddings", "signals/retrieval",
                "signals/index", "signals/ingestion", "baselines/runs", "budgets/{scope}/{id}", "batches/{id}",
                "GET failures");
        assertThat(kinds).contains("valid", "secrets", "delete", "swap-type", "hostile", "huge-number",
                "nul-or-surrogate", "deep-nesting", "duplicate-key", "empty-container", "null", "hostile-content",
                "hostile-every-text", "envelope", "content-type", "no-api-key");
        assertThat(hostile).hasSize(HostileText.values().length);
    }

    @Test
    void hostile_texts_have_the_length_asked_for() {
        SplittableRandom random = new SplittableRandom(3);
        for (HostileText text : HostileText.values()) {
            assertThat(text.build(65_536, random)).as(text.name()).hasSize(65_536);
            assertThat(text.build(17, random)).as(text.name()).hasSize(17);
        }
    }

    @Test
    void lone_surrogates_and_nul_survive_the_writer_as_escapes_that_jackson_reads_back() throws Exception {
        String hostile = "a\u0000b\uD800c\uDC00d\"e\\f";
        var node = FuzzCorpus.JSON.createObjectNode().put("text", hostile);
        String written = JsonText.write(node, new IdentityHashMap<>());
        assertThat(written).contains("\\u0000").contains("\\ud800").contains("\\udc00");
        JsonNode read = FuzzCorpus.JSON.readTree(written.getBytes(StandardCharsets.UTF_8));
        assertThat(read.get("text").textValue()).isEqualTo(hostile);
    }

    @Test
    void duplicate_keys_are_written_twice() {
        var node = FuzzCorpus.JSON.createObjectNode().put("status", "success");
        IdentityHashMap<JsonNode, List<Map.Entry<String, JsonNode>>> duplicates = new IdentityHashMap<>();
        duplicates.put(node, List.of(Map.entry("status", FuzzCorpus.JSON.getNodeFactory().numberNode(42))));
        assertThat(JsonText.write(node, duplicates)).isEqualTo("{\"status\":\"success\",\"status\":42}");
    }

    @Test
    void the_planted_card_passes_luhn_and_every_secret_appears_in_some_generated_body() {
        PlantedSecrets secrets = PlantedSecrets.of(11);
        assertThat(PlantedSecrets.luhnValid(secrets.cardDigits())).isTrue();
        assertThat(PlantedSecrets.luhnValid("4111111111111112")).isFalse();
        FuzzCorpus corpus = new FuzzCorpus(11, secrets, NOW);
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 1_000; i++) {
            FuzzRequest request = corpus.request(i);
            if (request.body() != null) {
                String body = new String(request.body(), StandardCharsets.UTF_8);
                secrets.rawForms().stream().filter(body::contains).forEach(seen::add);
            }
        }
        assertThat(seen).containsExactlyInAnyOrderElementsOf(secrets.rawForms());
    }

    @Test
    void failures_group_by_cause_without_sizes() {
        assertThat(FuzzReport.coarse("secrets hostile-content:one-token:65536")).isEqualTo("hostile-content:one-token");
        assertThat(FuzzReport.coarse("envelope:nesting-over-limit:4242 content-type:text/plain"))
                .isEqualTo("envelope:nesting-over-limit content-type:text/plain");
        assertThat(FuzzReport.coarse("nul-or-surrogate:call_type hostile:model:at-signs:1024 deep-nesting:x:990"))
                .isEqualTo("nul-or-surrogate hostile:at-signs deep-nesting");
    }
}
