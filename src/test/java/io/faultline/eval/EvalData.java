package io.faultline.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The labeled public sets of {@code shared/eval} (see its SOURCES.md for provenance). The directory is
 * {@code -Dfaultline.eval.dir}, else {@code ../shared/eval} beside the checkout, else {@code /work/shared/eval}.
 */
public final class EvalData {

    private static final ObjectMapper JSON = new ObjectMapper();

    private EvalData() {
    }

    public static Path dir() {
        String configured = System.getProperty("faultline.eval.dir");
        if (configured != null && !configured.isBlank()) {
            return Path.of(configured);
        }
        for (Path candidate : List.of(Path.of("..", "shared", "eval"), Path.of("/work/shared/eval"))) {
            if (Files.isDirectory(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("shared/eval not found: set -Dfaultline.eval.dir");
    }

    /** Every row of one JSONL file of the eval directory, in file order. */
    public static List<JsonNode> rows(String file) {
        List<JsonNode> rows = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(dir().resolve(file))) {
                if (!line.isBlank()) {
                    rows.add(JSON.readTree(line));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return rows;
    }

    /**
     * Whether a row belongs to the held-out part: chosen by a stable hash of a grouping key (a template or pair id)
     * so that related rows fall on the same side and the split never changes. About one row in five is held out.
     */
    public static boolean heldOut(String groupKey) {
        int h = groupKey.hashCode() * 0x9E3779B1;
        return Math.floorMod(h >>> 7, 5) == 0;
    }
}
