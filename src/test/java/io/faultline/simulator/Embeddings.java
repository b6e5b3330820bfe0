package io.faultline.simulator;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Deterministic embedding vectors: one input text always gives the same unit vector, scattered around a centre that
 * a script can turn ({@link Script#embeddingShift()}, radians in the plane of the first two axes). The same texts
 * under a shift give vectors whose mean has turned by that angle, which is what an embedding drift looks like.
 */
final class Embeddings {

    static final int DEFAULT_DIMENSIONS = 64;
    static final int MAX_DIMENSIONS = 4096;

    /** Per-axis spread around the centre: wide enough that the windows' means are noisy, narrow enough to drift. */
    private static final double NOISE = 0.1;

    private Embeddings() {
    }

    static float[] of(String input, int dimensions, double shift) {
        SplittableRandom random = new SplittableRandom(seed(input));
        double[] v = new double[dimensions];
        v[0] = Math.cos(shift);
        v[1] = Math.sin(shift);
        double norm = 0;
        for (int i = 0; i < dimensions; i++) {
            v[i] += NOISE * random.nextGaussian();
            norm += v[i] * v[i];
        }
        norm = Math.sqrt(norm);
        float[] out = new float[dimensions];
        for (int i = 0; i < dimensions; i++) {
            out[i] = (float) (v[i] / norm);
        }
        return out;
    }

    /** The inputs of an OpenAI embeddings request: a string, or an array of strings (or token arrays). */
    static List<String> inputs(JsonNode request) {
        JsonNode input = request.path("input");
        List<String> out = new ArrayList<>();
        if (input.isTextual()) {
            out.add(input.textValue());
        } else if (input.isArray()) {
            boolean tokens = !input.isEmpty() && input.get(0).isNumber();
            if (tokens) {
                out.add(input.toString());
            } else {
                for (JsonNode item : input) {
                    out.add(item.isTextual() ? item.textValue() : item.toString());
                }
            }
        }
        return out;
    }

    /** OpenAI's {@code encoding_format: base64}: the little-endian float32 bytes, base64-encoded. */
    static String base64(float[] vector) {
        ByteBuffer bytes = ByteBuffer.allocate(vector.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : vector) {
            bytes.putFloat(f);
        }
        return Base64.getEncoder().encodeToString(bytes.array());
    }

    private static long seed(String input) {
        long h = 1125899906842597L;
        for (int i = 0; i < input.length(); i++) {
            h = 31 * h + input.charAt(i);
        }
        return h;
    }
}
