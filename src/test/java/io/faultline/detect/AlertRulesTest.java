package io.faultline.detect;

import io.faultline.stack.PrometheusServer;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The alert rules parse and behave as their unit tests say, checked by the real promtool. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class AlertRulesTest {

    @Test
    void alert_rules_pass_promtool_check_and_their_unit_tests() throws Exception {
        assertThat(promtool("check", "rules", "alerts.yml")).contains("SUCCESS: 3 rules found");
        assertThat(promtool("test", "rules", "alerts.test.yml")).contains("SUCCESS");
    }

    @Test
    void correlation_backlog_rules_pass_promtool_check_and_fire_only_past_their_thresholds() throws Exception {
        assertThat(promtool("check", "rules", "correlation-alerts.yml")).contains("SUCCESS: 2 rules found");
        // The unit tests pin the edges: 300 s is not lagging, 360 s pending for 5 minutes is; 15 minutes of failed
        // episodes fire and a failure that clears earlier does not.
        assertThat(promtool("test", "rules", "correlation-alerts.test.yml")).contains("SUCCESS");
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
