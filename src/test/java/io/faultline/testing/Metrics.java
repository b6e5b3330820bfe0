package io.faultline.testing;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.restassured.RestAssured.when;

/** Reads /q/metrics the way a Prometheus scraper does. */
public final class Metrics {

    private Metrics() {
    }

    public static String scrape() {
        return when().get("/q/metrics").then().statusCode(200).extract().asString();
    }

    /** The value of the sample whose name and labels (in exposition order, any subset) match, or NaN if absent. */
    public static double value(String scrape, String name, String... labels) {
        for (String line : scrape.split("\n")) {
            if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) {
                continue;
            }
            int brace = line.indexOf('}');
            String labelPart = brace < 0 ? "" : line.substring(name.length(), brace + 1);
            boolean all = true;
            for (int i = 0; i + 1 < labels.length; i += 2) {
                if (!labelPart.contains(labels[i] + "=\"" + labels[i + 1] + "\"")) {
                    all = false;
                    break;
                }
            }
            if (all) {
                Matcher m = Pattern.compile("\\s([-+0-9.eE]+|NaN)$").matcher(line.trim());
                if (m.find()) {
                    return Double.parseDouble(m.group(1));
                }
            }
        }
        return Double.NaN;
    }

    public static double valueOrZero(String scrape, String name, String... labels) {
        double v = value(scrape, name, labels);
        return Double.isNaN(v) ? 0 : v;
    }
}
