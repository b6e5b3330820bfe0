package io.faultline.content;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedReader;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.zip.GZIPInputStream;

/**
 * Trains {@link InjectionModel} from the {@code train} rows of train/injection/dataset.jsonl.gz (never the
 * {@code heldout} ones) and writes the resource. Run by {@code make train-injection}, not by the build or CI:
 * {@code InjectionTrainer <dataset.jsonl.gz> <model.bin>}.
 *
 * <p>Each text is prepared as the detector prepares it (capped to head and tail, smuggling characters removed, NFKC)
 * and cut into the model's windows; a window is one training instance per head. Labels: direct injections count for
 * the injection head in every window; an indirect injection only in the windows that overlap the inserted attack
 * (the rest of its document is a negative); jailbreaks count for the jailbreak head; benign texts are negatives of
 * both. Heads ignore the other head's positives. Groups (category, and for documents the clean part) are weighted so
 * each weighs the same, and positives as much as negatives: the sources differ in size by an order of magnitude.
 * Optimiser: logistic loss, AdaGrad, L2, a fixed seed and a fixed number of epochs: the same data gives the same
 * bytes.
 */
public final class InjectionTrainer {

    /** Hash bits of the weight table (2^BITS buckets of three int8 weights); {@code -Dtrain.bits} to try others. */
    static final int BITS = Integer.getInteger("train.bits", 18);
    static final int EPOCHS = 12;
    static final double RATE = 0.2;
    static final double L2 = 1e-7;
    static final long SEED = 20261203L;
    /**
     * How the user-turn heads learn benign chat in other languages (MT-Bench-X's and MGSM's translations, category
     * {@code benign_chat_translated}): {@code own}, the default, as a group of its own; {@code shared}, inside benign
     * chat's group; {@code none}, not at all (the build before them, sha256 ecaf0223…, byte for byte). Never
     * calibrated on: the thresholds stay set on benign chat in English and German ({@link #CALIBRATED_ON}). The
     * three compared in train/injection/DATA_CARD.md (Model).
     */
    static final String TRANSLATED_CHAT = System.getProperty("train.translated-chat", "own");
    /**
     * The smoothing of {@link #nbRatios} ({@code -Dtrain.nb}; 0 turns the scaling off: the float weights of the build
     * before it). Chosen on the validation split among 0.1, 1, 3, 10, 30 and 100 (train/injection/DATA_CARD.md).
     */
    static final double NB_SMOOTHING = Double.parseDouble(System.getProperty("train.nb", "10"));
    /**
     * The heads {@link #nbRatios} scales, by index ({@code -Dtrain.nb-heads}, comma-separated): the direct head only.
     * Heads learn independently, so the others learn the float weights they learnt before. Scaled too, the indirect
     * head gained on the validation split but read a classic override planted in a short report at 0.0003 instead of
     * 0.07 (InjectionDetectorTest), under the rules' agreement: the phrase rules then deferred and nothing was flagged.
     */
    static final List<String> NB_HEADS = List.of(System.getProperty("train.nb-heads", "0").split(","));
    /**
     * How many composites {@link #composites} derives from each training direct injection ({@code -Dtrain.compose};
     * 0: none, the build before them byte for byte). Chosen on the validation split among 0, 1 and 2
     * (train/injection/DATA_CARD.md).
     */
    static final int COMPOSE = Integer.getInteger("train.compose", 1);
    /** The longest benign chat request a composite carries, in characters: a window holds it and the attack's start. */
    static final int COMPOSE_MAX_CHAT = 300;
    /**
     * Sources whose instances are dealt in among the other rows' as the {@link #composites} are (by a generator of
     * their own, outside the instance count the weights scale with), so that a head that does not learn from them
     * learns the bytes it learnt before: IFEval's and WildGuardTest's benign chat, which the indirect head does not
     * read.
     */
    static final List<String> DEALT_SOURCES = List.of("ifeval", "wildguard");
    /**
     * Sources left out of training and calibration ({@code -Dtrain.exclude-sources}, comma-separated; in
     * {@code --validate} mode their validation rows are still scored): {@code ifeval} retrains the build before
     * IFEval joined, sha256 08be23ba…, byte for byte.
     */
    static final List<String> EXCLUDED_SOURCES = List.of(System.getProperty("train.exclude-sources", "").split(","));
    /**
     * Sources the {@code --validate} report leaves out of the benign rows its thresholds are set on
     * ({@code -Dtrain.report-threshold-without}, comma-separated), reported as a category of their own: two builds
     * are then compared at thresholds set on the same benign rows.
     */
    static final List<String> REPORT_THRESHOLD_WITHOUT =
            List.of(System.getProperty("train.report-threshold-without", "").split(","));
    /** How many orders of the training instances {@link #train} averages. */
    static final int ORDERS = Integer.getInteger("train.orders", 3);
    static final int MAX_SCAN_CHARS = 8192;
    /**
     * Out-of-fold false-positive rate each head is calibrated to ({@link #CALIBRATED_ON}): 0.8% on benign chat for
     * the direct head (under the 1%: the precision target of 0.95 on direct injection is the binding
     * one there), 0.2% on benign chat for the jailbreak head (it has recall to spare); 3% on documents for the
     * indirect head (the issue sets no document target; at 2% the trainer's validation split lost a sixth of the
     * indirect recall).
     */
    static final double[] TARGET_FPR = {0.008, 0.03, 0.002};
    /** The benign category each head's {@link #TARGET_FPR} is set on (per head, in head order). */
    static final String[] CALIBRATED_ON = {"benign_chat", "benign_document", "benign_chat"};

    /** A window the heads learn from; {@code derived} when it comes from a {@link #composites composite}. */
    record Instance(int[] buckets, float value, int[] labels, float[] weights, boolean derived) {
    }

    public static void main(String[] args) throws IOException {
        Path dataset = Path.of(args.length > 0 ? args[0] : "train/injection/dataset.jsonl.gz");
        Path out = Path.of(args.length > 1 ? args[1] : "src/main/resources/io/faultline/content/injection-model.bin");
        List<JsonNode> rows = read(dataset);
        boolean validate = Arrays.asList(args).contains("--validate");
        List<JsonNode> validation = new ArrayList<>();
        if (validate) {
            // choices of the trainer (weights, epochs, features) were made on a seeded fifth of the train rows;
            // the held-out rows stay unread
            List<JsonNode> kept = new ArrayList<>();
            for (JsonNode row : rows) {
                if ("train".equals(row.path("split").asText())) {
                    // grouped: a BIPIA context or a GPTFuzz template is validation with all its rows or not at all
                    // a planted row is validation when its carrier and its attack both are, training when neither
                    // is, and unused otherwise: validation attacks then sit in carriers the model never saw, as
                    // the held-out ones do
                    boolean carrier = groupDraw(row, SEED) < 0.3;
                    double attack = attackDraw(row);
                    if (attack < 0 || carrier == attack < 0.3) {
                        (carrier ? validation : kept).add(row);
                    }
                }
            }
            rows = kept;
        }
        rows = rows.stream().filter(r -> !EXCLUDED_SOURCES.contains(r.path("source").asText())).toList();
        float[] shift = validate ? new float[InjectionModel.HEADS] : calibrate(rows);
        List<Instance> instances = instances(rows);
        System.out.printf(Locale.ROOT, "%d training rows -> %d window instances%n",
                rows.stream().filter(r -> "train".equals(r.path("split").asText())).count(), instances.size());
        float[][] w = new float[InjectionModel.HEADS][1 << BITS];
        float[] bias = new float[InjectionModel.HEADS];
        train(instances, w, bias);
        for (int h = 0; h < bias.length; h++) {
            bias[h] += shift[h];
        }
        if (validate) {
            java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
            write(bytes, w, bias);
            report(InjectionModel.read(new java.io.ByteArrayInputStream(bytes.toByteArray())), validation);
            return;
        }
        Files.createDirectories(out.getParent());
        try (OutputStream stream = Files.newOutputStream(out)) {
            write(stream, w, bias);
        }
        System.out.println("wrote " + out + " (" + Files.size(out) + " bytes)");
    }

    static List<JsonNode> read(Path dataset) throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> rows = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(
                new GZIPInputStream(Files.newInputStream(dataset)), StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                if (!line.isBlank()) {
                    rows.add(json.readTree(line));
                }
            }
        }
        return rows;
    }

    /**
     * A uniform draw in [0, 1) per group: rows of one BIPIA context, one GPTFuzz template or one other row share it,
     * so a split by it never puts a carrier or template on both sides.
     */
    static double groupDraw(JsonNode row, long seed) {
        String group = row.path("ref").asText().replaceFirst("\\+.*", "");
        long h = (seed ^ group.hashCode()) * 0x9E3779B97F4A7C15L;
        h ^= h >>> 31;
        h *= 0xBF58476D1CE4E5B9L;
        h ^= h >>> 29;
        return (h >>> 11) * 0x1.0p-53;
    }

    /**
     * The draw of a planted row's attack, grouped by the attack's category (BIPIA) or payload (the others), or -1 for
     * a row without one: validation attacks are then unseen as the held-out ones are (BIPIA's test attacks are other
     * categories than its training ones).
     */
    static double attackDraw(JsonNode row) {
        String ref = row.path("ref").asText();
        int plus = ref.indexOf('+');
        if (plus < 0 || !row.path("category").asText().equals("indirect_injection")) {
            return -1;
        }
        String attack = ref.substring(plus + 1).replaceFirst("/\\d+$", "");
        long h = (SEED ^ attack.hashCode()) * 0x9E3779B97F4A7C15L;
        h ^= h >>> 31;
        h *= 0xBF58476D1CE4E5B9L;
        h ^= h >>> 29;
        return (h >>> 11) * 0x1.0p-53;
    }

    /**
     * Per head, the logit shift that keeps the out-of-fold false-positive rate on the benign rows that head reads at
     * or below its {@link #TARGET_FPR}: five group folds of the train rows, each scored by a model trained on the other
     * four. Only ever makes a head stricter (the shift is at most 0).
     */
    static float[] calibrate(List<JsonNode> rows) throws IOException {
        List<JsonNode> train = rows.stream().filter(r -> "train".equals(r.path("split").asText())).toList();
        int folds = 5;
        // per head, per benign category it reads: the out-of-fold logits
        List<Map<String, List<Double>>> negatives = new ArrayList<>();
        for (int h = 0; h < InjectionModel.HEADS; h++) {
            negatives.add(new TreeMap<>());
        }
        for (int f = 0; f < folds; f++) {
            List<JsonNode> in = new ArrayList<>();
            List<JsonNode> out = new ArrayList<>();
            for (JsonNode row : train) {
                ((int) (groupDraw(row, SEED + 11) * folds) == f ? out : in).add(row);
            }
            float[][] w = new float[InjectionModel.HEADS][1 << BITS];
            float[] bias = new float[InjectionModel.HEADS];
            train(instances(in), w, bias);
            java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
            write(bytes, w, bias);
            InjectionModel model = InjectionModel.read(new java.io.ByteArrayInputStream(bytes.toByteArray()));
            for (JsonNode row : out) {
                String category = row.path("category").asText();
                if (!category.startsWith("benign")) {
                    continue;
                }
                InjectionModel.Score score = model.score(prepare(row.path("text").asText()));
                for (int h = 0; h < InjectionModel.HEADS; h++) {
                    boolean reads = h == InjectionModel.JAILBREAK
                            || (h == InjectionModel.DIRECT) != category.equals("benign_document");
                    if (reads) {
                        double p = Math.min(1 - 1e-9, Math.max(1e-9, score.of(h)));
                        negatives.get(h).computeIfAbsent(category, k -> new ArrayList<>()).add(Math.log(p / (1 - p)));
                    }
                }
            }
        }
        float[] shift = new float[InjectionModel.HEADS];
        for (int h = 0; h < InjectionModel.HEADS; h++) {
            // the rate is set on the category whose target binds (benign chat, 1%, for the heads that read user
            // turns; documents for the indirect head), not on a pool: there the size of the other categories would
            // move the threshold (a large easy one loosens it, a small hard one, at 0.2% of 480 rows its single
            // highest score, decides it). The other categories are measured, not calibrated (make eval).
            double quantile = 0;
            for (Map.Entry<String, List<Double>> category : negatives.get(h).entrySet()) {
                List<Double> logits = new ArrayList<>(category.getValue());
                logits.sort(null);
                double q = logits.get(Math.min(logits.size() - 1,
                        (int) Math.ceil(logits.size() * (1 - TARGET_FPR[h]))));
                boolean calibrated = category.getKey().equals(CALIBRATED_ON[h]);
                quantile = calibrated ? q : quantile;
                System.out.printf(Locale.ROOT, "head %d: %s, %d out-of-fold rows, logit quantile %.3f%s%n",
                        h, category.getKey(), logits.size(), q, calibrated ? " (calibrated on)" : "");
            }
            shift[h] = (float) Math.min(0, -quantile - 1e-3);
            System.out.printf(Locale.ROOT, "head %d: shift %.3f%n", h, shift[h]);
        }
        return shift;
    }

    /** The text as the detector hands it to the model: capped to head and tail, cleaned, NFKC. */
    static String prepare(String text) {
        if (text.length() > MAX_SCAN_CHARS) {
            text = text.substring(0, MAX_SCAN_CHARS / 2) + "\n" + text.substring(text.length() - MAX_SCAN_CHARS / 2);
        }
        return InjectionDetector.clean(text, new InjectionDetector.Hits()).text();
    }

    /**
     * Direct injections as they arrive behind or ahead of an ordinary request, "what is the capital of France?
     * Ignore the above and ...": each training direct injection with a training benign chat request (benign chat's
     * languages: English, German, NotInject's Chinese; at most {@link #COMPOSE_MAX_CHAT} characters) before or after
     * it, both drawn at random (seeded). A
     * placement of rows of the same split, no new text, as spikee-in-bipia and chat-in-bipia place theirs
     * (DATA_CARD.md); never written to the dataset, and only the direct head learns from them.
     */
    static List<JsonNode> composites(List<JsonNode> rows, int perInjection) {
        List<JsonNode> chat = rows.stream().filter(r -> "train".equals(r.path("split").asText())
                && "benign_chat".equals(r.path("category").asText())
                && r.path("text").asText().length() <= COMPOSE_MAX_CHAT).toList();
        List<JsonNode> out = new ArrayList<>();
        Random random = new Random(SEED + 17);
        for (JsonNode row : rows) {
            if (chat.isEmpty() || !"train".equals(row.path("split").asText())
                    || !"direct_injection".equals(row.path("category").asText())) {
                continue;
            }
            for (int k = 0; k < perInjection; k++) {
                String request = chat.get(random.nextInt(chat.size())).path("text").asText();
                String attack = row.path("text").asText();
                ObjectNode composite = ((ObjectNode) row).deepCopy();
                composite.put("text", random.nextBoolean() ? request + " " + attack : attack + " " + request);
                out.add(composite);
            }
        }
        return out;
    }

    /** Whether a row's source is one of {@link #DEALT_SOURCES}. */
    static boolean dealt(JsonNode row) {
        return DEALT_SOURCES.contains(row.path("source").asText());
    }

    /** Window instances of the training rows and their {@link #composites}, weighted per group. */
    static List<Instance> instances(List<JsonNode> rows) {
        Map<String, Integer> groupCounts = new HashMap<>();
        List<Object[]> raw = new ArrayList<>();
        int mask = (1 << BITS) - 1;
        // the rows' own instances come first; the dealt sources' and the composites' follow from `base`
        List<JsonNode> all = new ArrayList<>(rows.stream().filter(r -> !dealt(r)).toList());
        int own = all.size();
        all.addAll(rows.stream().filter(InjectionTrainer::dealt).toList());
        all.addAll(composites(rows, COMPOSE));
        int base = -1;
        for (int r = 0; r < all.size(); r++) {
            JsonNode row = all.get(r);
            if (r == own) {
                base = raw.size();
            }
            if (!"train".equals(row.path("split").asText())) {
                continue; // held-out rows are for InjectionEvalTest only
            }
            String original = row.path("text").asText();
            String text = prepare(original);
            if (text.isEmpty()) {
                continue;
            }
            String category = row.path("category").asText();
            if (category.equals("benign_chat_translated") && TRANSLATED_CHAT.equals("none")) {
                continue; // measured only: without an instance, the others' order and weights stay as they were
            }
            int blocks = (text.length() - 1) / InjectionFeatures.BLOCK + 1;
            List<List<Integer>> perBlock = new ArrayList<>();
            for (int b = 0; b < blocks; b++) {
                perBlock.add(new ArrayList<>());
            }
            // per segment: its buckets, and the first and last character its features end at
            List<List<Integer>> perSegment = new ArrayList<>();
            List<int[]> segmentSpan = new ArrayList<>();
            InjectionFeatures.extract(text, (at, segment, family, hash) -> {
                perBlock.get(at / InjectionFeatures.BLOCK).add(hash & mask);
                while (perSegment.size() <= segment) {
                    perSegment.add(new ArrayList<>());
                    segmentSpan.add(new int[] {at, at});
                }
                perSegment.get(segment).add(hash & mask);
                segmentSpan.get(segment)[1] = at;
            });
            int spanStart = -1;
            int spanEnd = -1;
            if (row.has("attack_span") && original.length() == text.length()) {
                spanStart = row.path("attack_span").get(0).asInt();
                spanEnd = row.path("attack_span").get(1).asInt();
            } else if (row.has("attack_span")) {
                // cleaning changed the length: locate the attack by its text (rare; skip when it cannot be found)
                continue;
            }
            int windows = Math.max(1, blocks - 1);
            for (int win = 0; win < windows; win++) {
                List<Integer> features = new ArrayList<>(perBlock.get(win));
                if (win + 1 < blocks) {
                    features.addAll(perBlock.get(win + 1));
                }
                if (features.isEmpty()) {
                    continue;
                }
                // per head: the group this window counts in, or null when the head does not learn from it
                String[] groups = new String[InjectionModel.HEADS];
                switch (category) {
                    case "direct_injection" -> groups[InjectionModel.DIRECT] = "+direct";
                    case "indirect_injection" -> {
                        int from = win * InjectionFeatures.BLOCK;
                        int to = from + 2 * InjectionFeatures.BLOCK;
                        boolean attack = spanStart < to && spanEnd > from;
                        groups[InjectionModel.INDIRECT] = attack ? "+indirect" : "-benign_document";
                        if (!attack) {
                            groups[InjectionModel.DIRECT] = "-benign_document";
                            groups[InjectionModel.JAILBREAK] = "-benign_document";
                        }
                    }
                    case "jailbreak" -> groups[InjectionModel.JAILBREAK] = "+jailbreak";
                    case "benign_chat" -> {
                        // the indirect head reads documents only, and BIPIA's planted instructions are ordinary
                        // chat requests: benign chat would teach it the opposite of its positives
                        groups[InjectionModel.DIRECT] = "-benign_chat";
                        groups[InjectionModel.JAILBREAK] = "-benign_chat";
                    }
                    case "benign_chat_translated" -> {
                        // the same requests in other languages: the language is not the attack
                        String group = TRANSLATED_CHAT.equals("shared") ? "-benign_chat" : "-benign_chat_translated";
                        groups[InjectionModel.DIRECT] = group;
                        groups[InjectionModel.JAILBREAK] = group;
                    }
                    default -> Arrays.fill(groups, "-" + category);
                }
                add(raw, groupCounts, features, groups);
            }
            // documents: each segment is also an instance of the indirect head (it scores segments on their own);
            // a segment is an attack when at least half of it, or half of the attack, is the planted text
            boolean document = category.equals("indirect_injection") || category.equals("benign_document");
            for (int seg = 0; document && perSegment.size() > 1 && seg < perSegment.size(); seg++) {
                List<Integer> features = perSegment.get(seg);
                if (features.size() < InjectionModel.MIN_SEGMENT_FEATURES) {
                    continue;
                }
                int from = seg == 0 ? 0 : segmentSpan.get(seg - 1)[1] + 1;
                int to = segmentSpan.get(seg)[1] + 1;
                int overlap = Math.max(0, Math.min(to, spanEnd) - Math.max(from, spanStart));
                boolean attack = spanStart >= 0 && overlap * 2 >= Math.min(to - from, spanEnd - spanStart);
                boolean partial = !attack && overlap > 0;
                if (partial) {
                    continue; // a segment with a sliver of the attack teaches neither side
                }
                String[] groups = new String[InjectionModel.HEADS];
                groups[InjectionModel.INDIRECT] = attack ? "+indirect_segment" : "-benign_document_segment";
                add(raw, groupCounts, features, groups);
            }
        }
        // every group weighs 1 in total (documents' clean parts and plain documents share one), then each head's
        // positives are scaled to weigh what its negatives weigh
        Map<String, Double> groupWeight = new HashMap<>();
        groupCounts.forEach((group, count) -> groupWeight.put(group, 1.0 / count));
        int heads = InjectionModel.HEADS;
        double[] positive = new double[heads];
        double[] negative = new double[heads];
        for (Object[] r : raw) {
            for (int h = 0; h < heads; h++) {
                String group = (String) r[1 + h];
                if (group != null) {
                    double wgt = groupWeight.get(group);
                    if (group.startsWith("+")) {
                        positive[h] += wgt;
                    } else {
                        negative[h] += wgt;
                    }
                }
            }
        }
        // weights scale with the rows' own instances only, so that the other heads learn what they learnt before
        double total = base < 0 ? raw.size() : base;
        List<Instance> out = new ArrayList<>(raw.size());
        for (Object[] r : raw) {
            int[] buckets = (int[]) r[0];
            int[] labels = new int[heads];
            float[] weights = new float[heads];
            for (int h = 0; h < heads; h++) {
                String group = (String) r[1 + h];
                if (group == null) {
                    labels[h] = -1;
                    continue;
                }
                boolean pos = group.startsWith("+");
                labels[h] = pos ? 1 : 0;
                double share = groupWeight.get(group) / (pos ? positive[h] : negative[h]) / 2;
                weights[h] = (float) (share * total);
            }
            out.add(new Instance(buckets, (float) (1 / Math.sqrt(buckets.length)), labels, weights,
                    base >= 0 && out.size() >= base));
        }
        System.out.println("groups (windows): " + groupCounts);
        return out;
    }

    private static void add(List<Object[]> raw, Map<String, Integer> groupCounts, List<Integer> features,
            String[] groups) {
        int[] buckets = features.stream().mapToInt(Integer::intValue).toArray();
        Object[] entry = new Object[1 + InjectionModel.HEADS];
        entry[0] = buckets;
        System.arraycopy(groups, 0, entry, 1, groups.length);
        raw.add(entry);
        for (String group : groups) {
            if (group != null) {
                groupCounts.merge(group, 1, Integer::sum);
            }
        }
    }

    /**
     * Trains {@link #ORDERS} models on the same instances in different seeded orders and averages their weights (a
     * linear model's logit is linear in them): a single order's model moves with the order alone (the direct head's
     * recall by ±0.05 on the validation split), and the average is the steadier estimate of what the data says.
     */
    static void train(List<Instance> instances, float[][] w, float[] bias) {
        long seed = Long.getLong("train.shuffle-seed", SEED);
        float[][] scale = nbRatios(instances, w.length, w[0].length);
        for (int k = 0; k < ORDERS; k++) {
            float[][] wk = new float[w.length][w[0].length];
            float[] biasK = new float[bias.length];
            train(instances, scale, wk, biasK, seed + k);
            for (int h = 0; h < w.length; h++) {
                for (int b = 0; b < w[h].length; b++) {
                    w[h][b] += wk[h][b] / ORDERS;
                }
                bias[h] += biasK[h] / ORDERS;
            }
        }
    }

    private static void shuffle(int[] order, Random random) {
        for (int i = order.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
    }

    /**
     * Each head's feature scale per bucket, NBSVM's log-count ratio (Wang and Manning, 2012) without its sign:
     * {@code |log((p_b / |p|) / (q_b / |q|))}, where {@code p_b} and {@code q_b} are the weighted counts of bucket
     * {@code b} in the head's positive and negative instances, each smoothed by {@link #NB_SMOOTHING}. A bucket that
     * tells the classes apart starts with a larger input, one seen as often in both with almost none; the regression
     * still learns every weight. All ones when the smoothing is 0, and for the heads not in {@link #NB_HEADS}.
     */
    static float[][] nbRatios(List<Instance> instances, int heads, int buckets) {
        float[][] r = new float[heads][buckets];
        for (float[] row : r) {
            Arrays.fill(row, 1f);
        }
        if (NB_SMOOTHING <= 0) {
            return r;
        }
        for (int h = 0; h < heads; h++) {
            if (!NB_HEADS.contains(String.valueOf(h))) {
                continue;
            }
            double[] p = new double[buckets];
            double[] q = new double[buckets];
            Arrays.fill(p, NB_SMOOTHING);
            Arrays.fill(q, NB_SMOOTHING);
            double sp = NB_SMOOTHING * buckets;
            double sq = NB_SMOOTHING * buckets;
            for (Instance x : instances) {
                if (x.labels()[h] < 0) {
                    continue;
                }
                double wgt = x.weights()[h];
                for (int b : x.buckets()) {
                    if (x.labels()[h] == 1) {
                        p[b] += wgt;
                        sp += wgt;
                    } else {
                        q[b] += wgt;
                        sq += wgt;
                    }
                }
            }
            for (int b = 0; b < buckets; b++) {
                r[h][b] = (float) Math.abs(Math.log((p[b] / sp) / (q[b] / sq)));
            }
        }
        return r;
    }

    /**
     * One order's model. Each input is multiplied by its head's and bucket's {@code scale}, and so are the learnt
     * weights at the end, so that the shipped model reads the plain features.
     */
    private static void train(List<Instance> instances, float[][] scale, float[][] w, float[] bias, long seed) {
        float[][] g2 = new float[w.length][w[0].length];
        float[] biasG2 = new float[w.length];
        Random random = new Random(seed);
        // The rows' own instances are shuffled as they were before composites existed, and the composites (the
        // direct head's alone) are dealt in among them by a generator of their own: every other head sees the same
        // sequence as before and learns the same weights.
        Random dealer = new Random(~seed);
        int derived = (int) instances.stream().filter(Instance::derived).count();
        int[] order = new int[instances.size() - derived];
        int[] extra = new int[derived];
        Arrays.setAll(order, i -> i);
        Arrays.setAll(extra, i -> order.length + i);
        int[] sequence = new int[instances.size()];
        for (int epoch = 0; epoch < EPOCHS; epoch++) {
            shuffle(order, random);
            shuffle(extra, dealer);
            for (int i = 0, a = 0, b = 0; i < sequence.length; i++) {
                boolean fromExtra = dealer.nextInt(sequence.length - i) < extra.length - b;
                sequence[i] = fromExtra ? extra[b++] : order[a++];
            }
            double[] loss = new double[w.length];
            for (int index : sequence) {
                Instance x = instances.get(index);
                for (int h = 0; h < w.length; h++) {
                    if (x.labels()[h] < 0) {
                        continue;
                    }
                    float[] wh = w[h];
                    float[] rh = scale[h];
                    double z = bias[h];
                    for (int b : x.buckets()) {
                        z += wh[b] * x.value() * rh[b];
                    }
                    double p = 1 / (1 + Math.exp(-z));
                    int y = x.labels()[h];
                    loss[h] += x.weights()[h] * -(y == 1 ? Math.log(Math.max(p, 1e-12)) : Math.log(Math.max(1 - p, 1e-12)));
                    double g = (p - y) * x.weights()[h];
                    for (int b : x.buckets()) {
                        double gb = g * x.value() * rh[b] + L2 * wh[b];
                        g2[h][b] += (float) (gb * gb);
                        wh[b] -= (float) (RATE * gb / Math.sqrt(g2[h][b] + 1e-8));
                    }
                    biasG2[h] += (float) (g * g);
                    bias[h] -= (float) (RATE * g / Math.sqrt(biasG2[h] + 1e-8));
                }
            }
            System.out.printf(Locale.ROOT, "epoch %d: mean loss direct %.4f, indirect %.4f, jailbreak %.4f%n",
                    epoch + 1, loss[0] / sequence.length, loss[1] / sequence.length, loss[2] / sequence.length);
        }
        for (int h = 0; h < w.length; h++) {
            for (int b = 0; b < w[h].length; b++) {
                w[h][b] *= scale[h][b];
            }
        }
    }

    /**
     * Per category: rows, and how many are flagged at the thresholds that give each head its {@link #TARGET_FPR} on
     * the validation rows' benign texts (as calibration does out of fold), on rows the model was not trained on.
     */
    static void report(InjectionModel model, List<JsonNode> rows) {
        List<double[]> scored = new ArrayList<>();
        List<List<Double>> benign = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
        for (JsonNode row : rows) {
            InjectionModel.Score s = model.score(prepare(row.path("text").asText()));
            String category = row.path("category").asText();
            if (REPORT_THRESHOLD_WITHOUT.contains(row.path("source").asText())) {
                category = category + "_" + row.path("source").asText();
            }
            boolean document = category.contains("document") || category.startsWith("indirect");
            double[] v = {document ? s.indirect() : s.direct(), s.jailbreak(), document ? 1 : 0};
            scored.add(v);
            // thresholds as calibration sets them: each head on its own category
            if (category.equals(CALIBRATED_ON[document ? InjectionModel.INDIRECT : InjectionModel.DIRECT])) {
                benign.get(document ? InjectionModel.INDIRECT : InjectionModel.DIRECT).add(v[0]);
            }
            if (category.equals(CALIBRATED_ON[InjectionModel.JAILBREAK])) {
                benign.get(InjectionModel.JAILBREAK).add(v[1]);
            }
        }
        double[] threshold = new double[InjectionModel.HEADS];
        for (int h = 0; h < threshold.length; h++) {
            List<Double> b = new ArrayList<>(benign.get(h));
            b.sort(null);
            threshold[h] = Math.max(0.5, b.get(Math.min(b.size() - 1, (int) Math.ceil(b.size() * (1 - TARGET_FPR[h])))) + 1e-9);
        }
        for (int h = 0; h < threshold.length; h++) {
            List<Double> b = new ArrayList<>(benign.get(h));
            b.sort(java.util.Collections.reverseOrder());
            List<Double> p = new ArrayList<>();
            for (int i = 0; i < rows.size(); i++) {
                String category = rows.get(i).path("category").asText();
                boolean positive = h == InjectionModel.JAILBREAK ? category.equals("jailbreak")
                        : h == InjectionModel.INDIRECT ? category.equals("indirect_injection")
                        : category.equals("direct_injection");
                if (positive) {
                    p.add(scored.get(i)[h == InjectionModel.JAILBREAK ? 1 : 0]);
                }
            }
            StringBuilder line = new StringBuilder("head " + h + ": recall at benign FPR");
            for (double fpr : new double[] {0.01, 0.02, 0.05, 0.1}) {
                double t = b.get(Math.min(b.size() - 1, (int) Math.floor(b.size() * fpr)));
                long caught = p.stream().filter(x -> x > t).count();
                line.append(String.format(Locale.ROOT, " %.2f: %.3f (t=%.4f)", fpr, (double) caught / p.size(), t));
            }
            System.out.println(line);
        }
        System.out.printf(Locale.ROOT, "thresholds at target FPR: direct %.3f, indirect %.3f, jailbreak %.3f%n",
                threshold[0], threshold[1], threshold[2]);
        Map<String, int[]> counts = new java.util.TreeMap<>();
        for (int i = 0; i < rows.size(); i++) {
            JsonNode row = rows.get(i);
            double[] v = scored.get(i);
            int[] c = counts.computeIfAbsent(row.path("category").asText() + " " + row.path("source").asText(),
                    k -> new int[4]);
            c[0]++;
            boolean inj = v[0] >= threshold[v[2] > 0 ? InjectionModel.INDIRECT : InjectionModel.DIRECT];
            boolean jb = v[1] >= threshold[InjectionModel.JAILBREAK];
            c[1] += inj ? 1 : 0;
            c[2] += jb ? 1 : 0;
            c[3] += inj || jb ? 1 : 0;
        }
        counts.forEach((k, c) -> System.out.printf(Locale.ROOT, "%-40s n=%4d inj=%4d jb=%4d either=%4d (%.3f)%n",
                k, c[0], c[1], c[2], c[3], (double) c[3] / c[0]));
        // -Dtrain.show-misses=<source>: that source's validation rows on the wrong side of the thresholds, to read
        // what the model misses (validation rows only: the held-out ones never reach the trainer)
        String show = System.getProperty("train.show-misses");
        for (int i = 0; show != null && i < rows.size(); i++) {
            JsonNode row = rows.get(i);
            double[] v = scored.get(i);
            boolean flagged = v[0] >= threshold[v[2] > 0 ? InjectionModel.INDIRECT : InjectionModel.DIRECT]
                    || v[1] >= threshold[InjectionModel.JAILBREAK];
            if (row.path("source").asText().equals(show) && flagged == row.path("category").asText()
                    .startsWith("benign")) {
                String text = row.path("text").asText().replaceAll("\\s+", " ");
                System.out.printf(Locale.ROOT, "miss %s %.3f/%.3f %s%n", row.path("category").asText(), v[0], v[1],
                        text.substring(0, Math.min(160, text.length())));
            }
        }
    }

    /**
     * int8 weights, interleaved per bucket, with a scale per head: the 99.99th percentile of the head's |w| maps to
     * 127. (One scale for all three, format version 2, tied each head's precision to the others' magnitudes.)
     */
    static void write(OutputStream stream, float[][] w, float[] bias) throws IOException {
        int buckets = w[0].length;
        float[] scale = new float[w.length];
        for (int h = 0; h < w.length; h++) {
            float[] magnitudes = new float[buckets];
            for (int b = 0; b < buckets; b++) {
                magnitudes[b] = Math.abs(w[h][b]);
            }
            Arrays.sort(magnitudes);
            scale[h] = magnitudes[(int) (magnitudes.length * 0.9999)] / 127f;
        }
        DataOutputStream out = new DataOutputStream(stream);
        out.writeInt(InjectionModel.MAGIC);
        out.writeInt(InjectionModel.VERSION);
        out.writeInt(BITS);
        out.writeInt(w.length);
        for (float sc : scale) {
            out.writeFloat(sc);
        }
        for (float b : bias) {
            out.writeFloat(b);
        }
        byte[] q = new byte[buckets * w.length];
        for (int b = 0; b < buckets; b++) {
            for (int h = 0; h < w.length; h++) {
                q[b * w.length + h] = (byte) Math.max(-127, Math.min(127, Math.round(w[h][b] / scale[h])));
            }
        }
        out.write(q);
        out.flush();
    }
}
