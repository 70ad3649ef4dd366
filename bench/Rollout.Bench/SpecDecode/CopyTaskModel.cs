using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Rollout.Models;
using Rollout.Models.Attention;
using Rollout.Models.Checkpoints.Safetensors;
using Rollout.Models.Configuration;
using Rollout.Models.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace Rollout.Bench.SpecDecode;

/// <summary>What training the copy model did, for the console and the JSON.</summary>
/// <param name="Steps">Optimizer steps taken.</param>
/// <param name="Seconds">Wall time of the training loop, held-out checks included.</param>
/// <param name="HeldOutAccuracy">Teacher-forced next-token accuracy on the held-out sequences' copyable positions, at the end.</param>
/// <param name="FinalLoss">The last step's training loss.</param>
internal sealed record CopyTraining(int Steps, double Seconds, double HeldOutAccuracy, double FinalLoss);

/// <summary>
/// The copy-heavy workload's model: a small Llama-style decoder trained in the benchmark, through the same module
/// code the engine serves (autograd on, <see cref="UncachedAttention"/>, AdamW), to continue a sequence by copying
/// it. Each training sequence is BOS then a run of 8-24 distinct random tokens repeated until
/// <see cref="SequenceLength"/> tokens; the loss is on every token that the sequence so far determines (from the
/// second token of the run's second occurrence on), so the model learns to find where the text last had its
/// current token and repeat what followed (induction heads). It trains on <see cref="ShortSequenceLength"/>-token
/// sequences until its accuracy on the held-out <see cref="SequenceLength"/>-token ones reaches
/// <see cref="LongSequencesFrom"/> (short sequences form those heads in a few hundred steps; long ones take many
/// times longer), then on full-length ones. Training stops once the held-out accuracy reaches
/// <see cref="TargetAccuracy"/> twice running, or at the step or time budget. Every draw is seeded.
/// </summary>
internal static class CopyTaskModel
{
    public const int VocabSize = 64;
    public const int Bos = 1;
    public const int Eos = 2;
    /// <summary>Run tokens are drawn from [FirstRunToken, VocabSize).</summary>
    public const int FirstRunToken = 3;
    public const int MinRun = 8;
    public const int MaxRun = 24;
    public const int HiddenSize = 128;
    public const int Layers = 2;
    public const int Heads = 4;
    /// <summary>Training sequence length: longer than any benchmark prompt plus its new tokens, so no position is new at generation.</summary>
    public const int SequenceLength = 192;
    /// <summary>Training sequence length until the model first copies: short sequences form the copying heads far faster.</summary>
    const int ShortSequenceLength = 64;
    const double LongSequencesFrom = 0.9;
    const int MaxPositions = 512;
    const int BatchSize = 16;
    const double LearningRate = 3e-3;
    const int WarmUpSteps = 20;
    const int EvalEvery = 25;
    const int HeldOutSequences = 32;
    const double TargetAccuracy = 0.999;
    const long WeightSeed = 20240611;
    const int DataSeed = 7;
    const int HeldOutSeed = 8;

    /// <summary>The name written as the JSON's <c>copy_model</c>.</summary>
    public static string Describe(CopyTraining training) =>
        $"copy-task-trained (LlamaForCausalLM, hidden {HiddenSize}, {Layers} layers, {Heads} heads, vocab {VocabSize}, {training.Steps} training steps)";

    /// <summary>
    /// The model's config.json: Llama-style. Not Qwen3: its q/k norms bound the attention scores until their weights
    /// grow, and copying needs attention sharp enough to pick one earlier position out of two hundred.
    /// </summary>
    public static string ConfigJson() => new JsonObject
    {
        ["architectures"] = new JsonArray("LlamaForCausalLM"),
        ["model_type"] = "llama",
        ["vocab_size"] = VocabSize,
        ["hidden_size"] = HiddenSize,
        ["intermediate_size"] = 3 * HiddenSize,
        ["num_hidden_layers"] = Layers,
        ["num_attention_heads"] = Heads,
        ["num_key_value_heads"] = Heads,
        ["head_dim"] = HiddenSize / Heads,
        ["max_position_embeddings"] = MaxPositions,
        ["rms_norm_eps"] = 1e-6,
        ["hidden_act"] = "silu",
        ["rope_theta"] = 10000.0,
        ["tie_word_embeddings"] = false,
        ["bos_token_id"] = Bos,
        ["eos_token_id"] = Eos,
        ["torch_dtype"] = "float32",
    }.ToJsonString();

    /// <summary>A run of <paramref name="length"/> distinct tokens (distinct, so each token says where the copy is).</summary>
    public static int[] Run(Random random, int length)
    {
        var pool = Enumerable.Range(FirstRunToken, VocabSize - FirstRunToken).ToArray();
        random.Shuffle(pool);
        return pool[..length];
    }

    public static int RunLength(Random random) => random.Next(MinRun, MaxRun + 1);

    /// <summary>
    /// Trains a fresh model for at most <paramref name="maxSteps"/> steps or <paramref name="maxSeconds"/>, writes it
    /// as a Hugging Face directory (config.json, model.safetensors) into <paramref name="directory"/> for
    /// the engine to load as a user's model would be, and reports what training did.
    /// </summary>
    public static CopyTraining TrainAndSave(string directory, int maxSteps, double maxSeconds, TextWriter log)
    {
        string configJson = ConfigJson();
        using var model = (CausalLanguageModel)TransformerModel.Create(HfConfigParser.Parse(configJson));
        TinyModelFactory.Randomize(model, WeightSeed);
        var training = Train(model, maxSteps, maxSeconds, log);

        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "config.json"), configJson);
        File.WriteAllText(Path.Combine(directory, "generation_config.json"), $"{{\"eos_token_id\": [{Eos}]}}");
        using var scope = NewDisposeScope();
        SafetensorsWriter.Write(Path.Combine(directory, "model.safetensors"), model.CheckpointTensors(), new Dictionary<string, string> { ["format"] = "pt" });
        return training;
    }

    static CopyTraining Train(CausalLanguageModel model, int maxSteps, double maxSeconds, TextWriter log)
    {
        var data = new Random(DataSeed);
        var heldOutRandom = new Random(HeldOutSeed);
        using var heldOut = CopyBatch.Draw(heldOutRandom, HeldOutSequences, SequenceLength);
        using var optimizer = optim.AdamW(model.parameters(), LearningRate, weight_decay: 0.0);
        log.WriteLine($"copy model: training LlamaForCausalLM (hidden {HiddenSize}, {Layers} layers, {Heads} heads, vocab {VocabSize}) for at most " +
                      $"{maxSteps} steps or {maxSeconds:F0} s on batches of {BatchSize} {ShortSequenceLength}-token sequences, {SequenceLength}-token ones once it copies " +
                      $"(BOS, a run of {MinRun}-{MaxRun} distinct tokens repeated), AdamW lr {LearningRate}, until held-out accuracy >= {TargetAccuracy:P1} twice");

        var watch = Stopwatch.StartNew();
        int step = 0, hits = 0;
        double loss = double.NaN, accuracy = 0;
        while (step < maxSteps && watch.Elapsed.TotalSeconds < maxSeconds)
        {
            foreach (var group in optimizer.ParamGroups) group.LearningRate = LearningRate * Math.Min(1.0, (step + 1.0) / WarmUpSteps);
            using (var scope = NewDisposeScope())
            using (var batch = CopyBatch.Draw(data, BatchSize, accuracy < LongSequencesFrom ? ShortSequenceLength : SequenceLength))
            {
                var logits = batch.Logits(model);
                var stepLoss = nn.functional.cross_entropy(logits, batch.Targets);
                optimizer.zero_grad();
                stepLoss.backward();
                nn.utils.clip_grad_norm_(model.parameters(), 1.0);
                optimizer.step();
                loss = stepLoss.item<float>();
            }
            step++;
            if (step % EvalEvery == 0 || step == maxSteps)
            {
                accuracy = heldOut.Accuracy(model);
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  step {step,5}  {watch.Elapsed.TotalSeconds,6:F1} s  loss {loss:F4}  held-out copy accuracy {accuracy:P2}"));
                hits = accuracy >= TargetAccuracy ? hits + 1 : 0;
                if (hits == 2) break;
            }
        }
        if (step % EvalEvery != 0 && step != maxSteps) accuracy = heldOut.Accuracy(model);
        double seconds = watch.Elapsed.TotalSeconds;
        log.WriteLine($"copy model: {step} steps in {seconds:F1} s ({1000 * seconds / Math.Max(step, 1):F0} ms per step), " +
                      $"final loss {loss:F4}, held-out teacher-forced copy accuracy {accuracy:P2}");
        return new CopyTraining(step, seconds, accuracy, loss);
    }

    /// <summary>
    /// Sequences packed end to end as the trainer's forward takes them: inputs, positions, and the rows whose next token
    /// is copyable with their targets.
    /// </summary>
    sealed class CopyBatch : IDisposable
    {
        readonly Tensor _inputs, _positions, _rows;
        readonly int[] _lengths;

        CopyBatch(Tensor inputs, Tensor positions, Tensor rows, Tensor targets, int[] lengths)
        {
            _inputs = inputs;
            _positions = positions;
            _rows = rows;
            Targets = targets;
            _lengths = lengths;
        }

        public Tensor Targets { get; }

        public static CopyBatch Draw(Random random, int sequences, int sequenceLength)
        {
            int length = sequenceLength - 1;
            var inputs = new long[sequences * length];
            var positions = new long[sequences * length];
            var rows = new List<long>();
            var targets = new List<long>();
            for (int s = 0; s < sequences; s++)
            {
                int runLength = RunLength(random);
                var run = Run(random, runLength);
                var sequence = new long[sequenceLength];
                sequence[0] = Bos;
                for (int i = 1; i < sequenceLength; i++) sequence[i] = run[(i - 1) % runLength];
                for (int i = 0; i < length; i++)
                {
                    inputs[s * length + i] = sequence[i];
                    positions[s * length + i] = i;
                    // Row i predicts token i + 1; from the run's second occurrence's second token on, it is a copy.
                    if (i + 1 >= runLength + 2)
                    {
                        rows.Add(s * length + i);
                        targets.Add(sequence[i + 1]);
                    }
                }
            }
            return new CopyBatch(tensor(inputs).DetachFromDisposeScope(), tensor(positions).DetachFromDisposeScope(),
                tensor(rows.ToArray()).DetachFromDisposeScope(), tensor(targets.ToArray()).DetachFromDisposeScope(), Enumerable.Repeat(length, sequences).ToArray());
        }

        /// <summary>Logits [copyable rows, vocab] through the module code the engine serves.</summary>
        public Tensor Logits(CausalLanguageModel model)
        {
            var hidden = model.Forward(new ForwardBatch(_inputs, _positions, new UncachedAttention(_lengths)));
            return model.ComputeLogits(hidden, _rows);
        }

        /// <summary>The fraction of copyable rows whose argmax is the right token.</summary>
        public double Accuracy(CausalLanguageModel model)
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            return Logits(model).argmax(-1).eq(Targets).to_type(ScalarType.Float64).mean().item<double>();
        }

        public void Dispose()
        {
            _inputs.Dispose();
            _positions.Dispose();
            _rows.Dispose();
            Targets.Dispose();
        }
    }
}
