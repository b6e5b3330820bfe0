package io.faultline.content;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.faultline.call.CallMapper;
import io.faultline.call.LlmCall;
import io.faultline.content.PiiScanner.Finding;
import io.faultline.content.PiiScanner.Kind;
import io.faultline.taxonomy.Failure;
import io.faultline.taxonomy.SecurityFailure;
import io.faultline.taxonomy.Severity;
import io.faultline.testing.ConfigMappings;
import io.faultline.testing.Payloads;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator.ReplaceUnderscores;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

@DisplayNameGeneration(ReplaceUnderscores.class)
class PiiScannerTest {

    private static final String CARD = "4111 1111 1111 1111";
    private static final String IBAN = "DE89 3704 0044 0532 0130 00";
    private static final String OPENAI_KEY = "sk-proj-Ab3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7dE9f";
    private static final String TOKEN = "Zx8Kq2Lm9Np4Rt7Vw1Yb5Cd3Fg6Hj0Ks8Mn2Pq";

    private final PiiScanner scanner = new PiiScanner(ConfigMappings.defaults(PiiConfig.class));

    private List<Finding> scan(String text) {
        return scanner.scan(text);
    }

    private static Finding only(List<Finding> findings, Kind kind) {
        assertThat(findings).extracting(Finding::kind).containsExactly(kind);
        return findings.get(0);
    }

    @Test
    void full_width_digits_and_at_signs_as_japanese_and_chinese_text_writes_them_are_found() {
        // A Japanese answer as an IME writes it: full-width digits, letters and at sign (U+FF10-U+FF5E).
        List<Finding> findings = scan("カード番号は４１１１ １１１１ １１１１ １１１１、メールは"
                + "ｊａｎｅ．ｄｏｅ＠ｅｘａｍｐｌｅ．ｃｏｍです。");

        assertThat(findings).extracting(Finding::kind).containsExactly(Kind.CARD, Kind.EMAIL);
        assertThat(findings.get(0).masked()).isEqualTo("•••• 1111");
        assertThat(findings.get(0).normalized()).isEqualTo("4111111111111111");
    }

    @Test
    void a_luhn_valid_card_is_found_with_its_digits_and_only_its_last_four_shown() {
        Finding card = only(scan("Charge it to " + CARD + " please."), Kind.CARD);

        assertThat(card.normalized()).isEqualTo("4111111111111111");
        assertThat(card.masked()).isEqualTo("•••• 1111");
        assertThat(scan("Charge it to 4111111111111111.")).extracting(Finding::kind).containsExactly(Kind.CARD);
    }

    @Test
    void the_character_tests_before_the_card_ssn_and_ip_patterns_turn_away_no_position_where_they_match() {
        // Seeded texts of digits and the separators the patterns read, with real shapes mixed in; at every position
        // where a pattern matches (as the scan asks it: region to the cluster's end, look-arounds see past it),
        // the test in front of it must say yes, or the scan would miss a finding.
        String alphabet = "0123456789012345678901234567890123456789 -.-./()+,a";
        String[] shapes = {"123-45-6789", "123 45 6789", "4111 1111 1111 1111", "4111-1111-1111-1111",
            "3782 822463 10005", "4111111111111111", "8.8.8.8", "203.0.113.195", "1.22.333.4"};
        java.util.Random random = new java.util.Random(11);
        int matched = 0;
        for (int i = 0; i < 20_000; i++) {
            StringBuilder text = new StringBuilder();
            int length = random.nextInt(40);
            for (int k = 0; k < length; k++) {
                text.append(alphabet.charAt(random.nextInt(alphabet.length())));
                if (random.nextInt(30) == 0) {
                    text.append(shapes[random.nextInt(shapes.length)]);
                }
            }
            String t = text.toString();
            for (int p = 0; p < t.length(); p++) {
                for (int to = p; to <= t.length(); to += 1 + random.nextInt(6)) {
                    matched += mayStartAgrees(PiiScanner.SSN, t, p, to, PiiScanner.maySsn(t, p, to));
                    matched += mayStartAgrees(PiiScanner.CARD, t, p, to, PiiScanner.mayCard(t, p, to));
                    matched += mayStartAgrees(PiiScanner.IPV4, t, p, to, PiiScanner.mayIpv4(t, p, to));
                }
            }
        }
        assertThat(matched).as("positions where a pattern matched").isGreaterThan(1_000);
    }

    private static int mayStartAgrees(java.util.regex.Pattern pattern, String text, int p, int to, boolean may) {
        java.util.regex.Matcher m = pattern.matcher(text).useTransparentBounds(true).useAnchoringBounds(false)
                .region(p, to);
        boolean matches = m.lookingAt();
        assertThat(!matches || may).as("%s at %d..%d of \"%s\"", pattern, p, to, text).isTrue();
        return matches ? 1 : 0;
    }

    @Test
    void a_scan_without_phone_numbers_reports_the_other_findings_of_the_full_scan_or_says_it_cannot() {
        String text = "Call +41 61 266 55 00 or (415) 555-2671, card " + CARD + ", mail jane@example.com, SSN "
                + "123-45-6789, host 8.8.8.8.";
        List<Finding> full = scan(text);
        assertThat(full).extracting(Finding::kind).contains(Kind.PHONE, Kind.CARD, Kind.EMAIL, Kind.US_SSN, Kind.IP);
        assertThat(scanner.scanWithoutPhones(text)).containsExactlyElementsOf(
                full.stream().filter(f -> f.kind() != Kind.PHONE).toList());

        // 40 findings leave 10 of the 50 allowed, fewer than the 12 phone candidates a full scan may validate: the
        // full scan's phone numbers could have used up the budget before the last findings, so no answer.
        String crowded = java.util.stream.IntStream.range(0, 40).mapToObj(i -> "m" + i + "@example.com")
                .collect(java.util.stream.Collectors.joining(" "));
        assertThat(scanner.scanWithoutPhones(crowded)).isNull();
        assertThat(scanner.scanWithoutPhones("mail a@example.com")).extracting(Finding::kind)
                .containsExactly(Kind.EMAIL);
    }

    @Test
    void a_sixteen_digit_number_failing_luhn_is_not_a_card() {
        assertThat(scan("Reference 4111 1111 1111 1112 and 4111111111111112.")).isEmpty();
    }

    @Test
    void an_iban_is_validated_by_mod_97_whatever_its_spacing_and_case() {
        Finding iban = only(scan("Wire it to " + IBAN + " today."), Kind.IBAN);
        assertThat(iban.normalized()).isEqualTo("DE89370400440532013000");
        assertThat(iban.masked()).isEqualTo("DE•• … 3000");
        assertThat(scan("to de89370400440532013000 now")).extracting(Finding::kind).containsExactly(Kind.IBAN);

        assertThat(scan("Wire it to DE88 3704 0044 0532 0130 00 today.")).isEmpty();
    }

    @Test
    void an_ssn_is_found_unless_its_area_group_or_serial_is_never_issued() {
        Finding ssn = only(scan("My SSN is 123-45-6789."), Kind.US_SSN);
        assertThat(ssn.normalized()).isEqualTo("123456789");
        assertThat(ssn.masked()).isEqualTo("***-**-6789");

        assertThat(scan("SSN 000-12-3456, 666-12-3456, 912-34-5678, 123-00-4567, 123-45-0000")).isEmpty();
    }

    @Test
    void an_email_is_validated_and_compared_in_lower_case() {
        Finding email = only(scan("Write to Jane.Doe@Example.com for details."), Kind.EMAIL);
        assertThat(email.normalized()).isEqualTo("jane.doe@example.com");
        assertThat(email.masked()).isEqualTo("J***@E***.com");

        assertThat(scan("Decorators like @property and user@localhost are not addresses.")).isEmpty();
    }

    @Test
    void a_public_ip_is_found_and_versions_private_ranges_and_longer_dotted_runs_are_not() {
        Finding ip = only(scan("The server at 8.8.4.4 answered."), Kind.IP);
        assertThat(ip.masked()).isEqualTo("8.x.x.x");
        assertThat(only(scan("Reach it on 2001:4860:4860::8888 instead."), Kind.IP).masked()).isEqualTo("2001:…");

        assertThat(scan("Upgrade to version 1.2.3.4 or v10.0.0.1; OID 1.3.6.1.4.1 is not a host; 999.1.1.1 either."))
                .isEmpty();
        assertThat(scan("Your router is 192.168.1.1, localhost is 127.0.0.1 and ::1.")).isEmpty();
    }

    @Test
    void private_addresses_count_when_configured() {
        PiiScanner withPrivate = new PiiScanner(
                ConfigMappings.with(PiiConfig.class, Map.of("faultline.pii.private-ips", "true")));

        assertThat(withPrivate.scan("Your router is 192.168.1.1.")).extracting(Finding::kind).containsExactly(Kind.IP);
    }

    @Test
    void phone_numbers_are_found_in_international_regional_and_announced_national_forms() {
        Finding international = only(scan("Ring +1 650-253-0000 tomorrow."), Kind.PHONE);
        assertThat(international.normalized()).isEqualTo("6502530000");
        assertThat(international.masked()).isEqualTo("•••00");
        assertThat(scan("They're not answering at (650) 253-0000")).extracting(Finding::kind)
                .containsExactly(Kind.PHONE);
        assertThat(scan("Phone: 0490 75 40 81")).extracting(Finding::kind).containsExactly(Kind.PHONE);
    }

    @Test
    void dates_times_zip_codes_and_street_numbers_are_not_phone_numbers() {
        assertThat(scan("Born 1984-07-23 at 12:20:39, moved on 12/05/2024 to ZIP 90210 (94107-1234), "
                + "lives at 1600 Pennsylvania Avenue, order 20240523, invoice 2024-0523-17.")).isEmpty();
    }

    @Test
    void provider_keys_and_high_entropy_tokens_are_secrets_shown_by_prefix_and_length() {
        Finding key = only(scan("Use " + OPENAI_KEY + " in the header."), Kind.SECRET);
        assertThat(key.masked()).isEqualTo("sk-proj-… (" + OPENAI_KEY.length() + " chars)");
        assertThat(only(scan("aws_access_key_id = AKIAIOSFODNN7EXAMPLE"), Kind.SECRET).masked())
                .isEqualTo("AKIA… (20 chars)");
        assertThat(only(scan("token: " + TOKEN), Kind.SECRET).masked()).isEqualTo("… (" + TOKEN.length() + " chars)");
    }

    @Test
    void hashes_uuids_and_long_identifiers_are_not_secrets() {
        assertThat(scan("commit da39a3ee5e6b4b0d3255bfef95601890afd80709, id 550e8400-e29b-41d4-a716-446655440000, "
                + "class AbstractSingletonProxyFactoryBean2, path /usr/local/lib/python3.11/site-packages")).isEmpty();
    }

    @Test
    void a_kind_switched_off_is_not_looked_for() {
        PiiScanner noPhones = new PiiScanner(ConfigMappings.with(PiiConfig.class,
                Map.of("faultline.pii.kinds", "EMAIL,CARD,IBAN,US_SSN,IP,SECRET")));

        assertThat(noPhones.scan("Ring +1 650-253-0000 or mail a@example.com")).extracting(Finding::kind)
                .containsExactly(Kind.EMAIL);
    }

    @Test
    void text_beyond_the_scan_bound_is_not_read() {
        PiiScanner bounded = new PiiScanner(
                ConfigMappings.with(PiiConfig.class, Map.of("faultline.pii.max-scan-chars", "100")));
        String text = "x".repeat(120) + " jane@example.com";

        assertThat(bounded.scan(text)).isEmpty();
        assertThat(bounded.cuts(text)).isTrue();
    }

    @Test
    void numbers_inside_one_long_cluster_of_digits_are_still_found() {
        // Separators of up to three characters keep a cluster going: a table row is one cluster, and the patterns
        // are tried only where a number can begin (after a space, a slash or a bracket), not at every digit.
        String row = "12 34 56 78 90 " + CARD + " 11/22/33 (536) 12 - 536-22-1234 / 44 55";

        assertThat(scan(row)).extracting(Finding::kind).containsExactly(Kind.CARD, Kind.US_SSN);
        assertThat(scan(row)).extracting(Finding::normalized).containsExactly("4111111111111111", "536221234");
    }

    @Test
    void running_out_of_phone_candidates_marks_the_scan_exhausted_and_reads_no_later_phone() {
        PiiScanner few = new PiiScanner(
                ConfigMappings.with(PiiConfig.class, Map.of("faultline.pii.phone-max-candidates", "2")));
        String text = "phone (415) 555-2671; phone (415) 555-2672; phone (415) 555-2673; card " + CARD;

        PiiScanner.Scan scan = few.inspect(text);

        assertThat(scan.exhausted()).isTrue();
        assertThat(scan.findings()).extracting(Finding::kind).containsExactly(Kind.PHONE, Kind.PHONE, Kind.CARD);
    }

    @Test
    void a_finding_prints_masked() {
        assertThat(scan("Card " + CARD).get(0).toString()).doesNotContain("4111111111111111").contains("•••• 1111");
    }

    /** {@link PiiRules}: one failure per call, severity by origin, evidence without values. */
    @Nested
    class Rules {

        private static final Instant AT = Instant.parse("2026-11-28T10:00:00Z");

        private final ContentConfig content = ConfigMappings.defaults(ContentConfig.class);
        private final CallMapper mapper = new CallMapper(Payloads.JSON, content);
        private final PiiRules rules = new PiiRules(content, ConfigMappings.defaults(PiiConfig.class));

        private LlmCall call(String user, String answer) {
            ObjectNode node = Payloads.success("openai", "gpt-4o", "dep-x", AT).answer(answer, "stop").node();
            node.putArray("messages").addObject().put("role", "user").put("content", user);
            return mapper.map(node);
        }

        @Test
        void pii_the_model_produced_is_a_p2_pii_leakage() {
            List<Failure> failures = rules.apply(call("Who runs billing?", "Ask Jane at jane.doe@example.com."));

            assertThat(failures).hasSize(1);
            Failure failure = failures.get(0);
            assertThat(((SecurityFailure) failure).type()).isEqualTo(SecurityFailure.Type.PII_LEAKAGE);
            assertThat(failure.severity()).isEqualTo(Severity.P2);
            assertThat(failure.detectionMethod()).isEqualTo("content.pii.validated");
            assertThat(failure.evidence()).containsEntry("produced", 1).containsEntry("echoed", 0)
                    .containsEntry("pii_kinds", Map.of("email", 1))
                    .containsEntry("samples", List.of("email j***@e***.com (produced)"));
        }

        @Test
        void pii_the_answer_only_echoes_from_the_request_is_p4() {
            List<Failure> failures = rules.apply(call("My card is 4111-1111-1111-1111 and my mail JANE@example.com",
                    "Noted: card " + CARD + ", mail jane@example.com."));

            assertThat(failures).singleElement().satisfies(f -> {
                assertThat(f.severity()).isEqualTo(Severity.P4);
                assertThat(f.evidence()).containsEntry("echoed", 2).containsEntry("produced", 0);
            });
        }

        @Test
        void an_echo_written_differently_is_found_with_or_without_the_request_s_phone_numbers() {
            // The card written with other separators is no literal echo: the request is scanned. Without a phone
            // number among the answer's findings the request's numbers are not validated as phones; with one they are.
            String request = "Card 4111-1111-1111-1111, office phone +41 61 266 55 00, mail JANE@example.com";
            assertThat(rules.apply(call(request, "Noted: card " + CARD + ".")))
                    .singleElement().satisfies(f -> assertThat(f.evidence()).containsEntry("echoed", 1));
            assertThat(rules.apply(call(request, "Noted: card " + CARD + ", phone +41612665500.")))
                    .singleElement().satisfies(f -> assertThat(f.evidence()).containsEntry("echoed", 2)
                            .containsEntry("pii_kinds", Map.of("card", 1, "phone", 1)));
        }

        @Test
        void one_produced_finding_among_echoed_ones_sets_the_severity() {
            Failure failure = rules.apply(call("My mail is jane@example.com",
                    "Your mail jane@example.com; your manager's is bob@example.org.")).get(0);

            assertThat(failure.severity()).isEqualTo(Severity.P2);
            assertThat(failure.evidence()).containsEntry("echoed", 1).containsEntry("produced", 1);
        }

        @Test
        void a_secret_the_model_produced_is_p1() {
            assertThat(rules.apply(call("How do I call the API?", "Set OPENAI_API_KEY=" + OPENAI_KEY)))
                    .singleElement().extracting(Failure::severity).isEqualTo(Severity.P1);
        }

        @Test
        void the_evidence_holds_no_raw_value() throws Exception {
            String ssn = "123-45-6789";
            String email = "jane.doe@example.com";
            String ip = "8.8.4.4";
            String phone = "+1 650-253-0000";
            Failure failure = rules.apply(call("Hi", String.join(" ; ", CARD, IBAN, ssn, email, ip, phone,
                    OPENAI_KEY, "4111111111111111"))).get(0);

            String evidence = Payloads.JSON.writeValueAsString(failure.evidence());
            assertThat(failure.evidence()).containsEntry("pii_kinds",
                    Map.of("secret", 1, "iban", 1, "card", 2, "us_ssn", 1, "email", 1, "ip", 1, "phone", 1));
            for (String raw : List.of(CARD, "4111111111111111", IBAN, "DE89370400440532013000", ssn, "123456789",
                    email, ip, phone, "6502530000", OPENAI_KEY, OPENAI_KEY.substring(8, 24))) {
                assertThat(evidence).doesNotContain(raw);
            }
            assertThat(failure.evidence().get("samples")).asList().hasSize(5);
        }

        @Test
        void an_answer_without_pii_raises_nothing() {
            assertThat(rules.apply(call("Capital of France?", "Paris, since 987; population 2,102,650."))).isEmpty();
        }

        @Test
        void switching_pii_leakage_off_stops_detection() {
            ContentConfig off = ConfigMappings.with(ContentConfig.class,
                    Map.of("faultline.content.disabled-types", "pii_leakage"));
            PiiRules disabled = new PiiRules(off, ConfigMappings.defaults(PiiConfig.class));

            assertThat(disabled.apply(call("Who?", "jane.doe@example.com"))).isEmpty();
        }
    }
}
