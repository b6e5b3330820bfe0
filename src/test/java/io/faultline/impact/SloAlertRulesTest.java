package io.faultline.impact;

import io.faultline.stack.PrometheusServer;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The SLO burn-rate alert rules parse and fire exactly at the SRE workbook's thresholds (14.4x over 1h and 5m, 6x over
 * 6h and 30m, 1x over 3d and 6h) and not just below them, as their unit tests say, checked by the real promtool.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class SloAlertRulesTest {

    @Test
    void slo_burn_rate_rules_pass_promtool_check_and_fire_exactly_at_the_workbook_thresholds() throws Exception {
        assertThat(promtool("check", "rules", "slo-alerts.yml")).contains("SUCCESS: 6 rules found");
        String tests = promtool("test", "rules", "slo-alerts.test.yml");
        assertThat(tests).contains("SUCCESS").doesNotContain("FAILED");
    }

    private static String promtool(String... args) throws Exception {
        String[] command = new String[args.length + 1];
        command[0] = PrometheusServer.binary("promtool");
        System.arraycopy(args, 0, command, 1, args.length);
        Process process = new ProcessBuilder(command).directory(new File("prometheus")).redirectErrorStream(true)
                .start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as(output).isZero();
        return output;
    }
}
