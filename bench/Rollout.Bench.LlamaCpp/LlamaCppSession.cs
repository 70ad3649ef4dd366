using System.Diagnostics;
using LLama;
using LLama.Batched;
using LLama.Common;
using LLama.Native;

namespace Rollout.Bench.LlamaCpp;

/// <summary>A loaded model and the warm executor (context and KV cache) jobs run in.</summary>
sealed class LlamaCppSession : IDisposable
{
    // Large enough for a 512-token prefill or 64 sequences x 32-token prompts in one llama_decode.
    const uint MaxBatch = 2048;
    const uint MaxMicroBatch = 512;

    readonly LLamaWeights weights;
    readonly ModelParams parameters;
    readonly int vocabSize;
    BatchedExecutor? executor;
    // Conversations the executor has created: their sequence ids never come back.
    int sequencesUsed;

    LlamaCppSession(LLamaWeights weights, ModelParams parameters)
    {
        this.weights = weights;
        this.parameters = parameters;
        vocabSize = weights.Vocab.Count;
    }

    int SequenceCapacity => (int)(parameters.ContextSize!.Value / parameters.SeqMax);

    public static async Task<LlamaCppSession> LoadAsync(LoadRequest request)
    {
        if (request.Threads <= 0 || request.MaxSequences <= 0 || request.ContextSize < request.MaxSequences)
            throw new ArgumentException($"threads ({request.Threads}) and maxSequences ({request.MaxSequences}) must be positive and contextSize ({request.ContextSize}) at least maxSequences");
        if (!File.Exists(request.Model)) throw new FileNotFoundException($"model not found: {request.Model}");
        uint batch = Math.Min(MaxBatch, (uint)request.ContextSize);
        var parameters = new ModelParams(request.Model)
        {
            ContextSize = (uint)request.ContextSize,
            SeqMax = (uint)request.MaxSequences,
            // One KV stream per sequence: attention then reads only that sequence's cache, not the whole context's.
            KVUnified = false,
            Threads = request.Threads,
            BatchThreads = request.Threads,
            BatchSize = batch,
            UBatchSize = Math.Min(MaxMicroBatch, batch),
            TypeK = GGMLType.GGML_TYPE_F32,
            TypeV = GGMLType.GGML_TYPE_F32,
            // Off like Rollout's unfused attention; not measured to help F32 on this CPU.
            FlashAttention = false,
            GpuLayerCount = 0,
            // Reading the file into memory, not mapping it, lets the parent rewrite or delete it while we run.
            LoadMode = LLamaLoadMode.None,
        };
        var session = new LlamaCppSession(LLamaWeights.LoadFromFile(parameters), parameters);
        try
        {
            session.executor = await session.WarmExecutorAsync();
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    public async Task<JobAnswer> RunAsync(JobRequest job)
    {
        Validate(job);
        // An executor hands out sequence ids 0, 1, 2, ... and never reuses one; llama.cpp refuses ids past
        // maxSequences. Creating a context takes seconds (64 sequences: ~4 s), so it is replaced only then.
        if (executor is null || sequencesUsed + job.Prompts.Length > parameters.SeqMax)
        {
            executor?.Dispose();
            // Null until the replacement is warm, so a failed warm-up is retried by the next job.
            executor = null;
            executor = await WarmExecutorAsync();
        }
        sequencesUsed += job.Prompts.Length;
        var current = executor;
        var conversations = new List<Conversation>(job.Prompts.Length);
        try
        {
            int sequences = job.Prompts.Length;
            var picked = new int[sequences];
            var logits = job.FirstStepLogits ? new float[sequences][] : null;
            var tokens = Enumerable.Range(0, sequences).Select(_ => new List<int>(job.NewTokens)).ToArray();

            var clock = Stopwatch.StartNew();
            // Created and prompted in prompt order, so sequence ids ascend in every batch: llama.cpp packs
            // only consecutive ascending ids into one sub-batch.
            foreach (var prompt in job.Prompts)
            {
                var conversation = current.Create();
                conversations.Add(conversation);
                conversation.Prompt(Array.ConvertAll(prompt, id => (LLamaToken)id).AsSpan());
            }
            await InferAndPickAsync(current, conversations, picked, logits);
            double prefillSeconds = clock.Elapsed.TotalSeconds;
            Append(tokens, picked);

            clock.Restart();
            int steps = job.NewTokens - 1;
            for (int step = 0; step < steps; step++)
            {
                for (int i = 0; i < sequences; i++) conversations[i].Prompt((LLamaToken)picked[i]);
                await InferAndPickAsync(current, conversations, picked, null);
                Append(tokens, picked);
            }
            double decodeSeconds = clock.Elapsed.TotalSeconds;

            return new JobAnswer(prefillSeconds, decodeSeconds, steps, tokens.Select(t => t.ToArray()).ToArray(), logits);
        }
        finally
        {
            foreach (var conversation in conversations) conversation.Dispose();
        }
    }

    // Runs every queued batch; a conversation's logits are readable only until the next Infer, so each
    // batch's sequences are picked right after it.
    static async Task InferAndPickAsync(BatchedExecutor executor, List<Conversation> conversations, int[] picked, float[][]? logits)
    {
        while (executor.BatchQueueCount > 0)
        {
            var result = await executor.Infer();
            if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode failed: {result}");
            for (int i = 0; i < conversations.Count; i++)
            {
                if (!conversations[i].RequiresSampling) continue;
                var row = conversations[i].Sample();
                picked[i] = ArgMax(row);
                if (logits is not null) logits[i] = row.ToArray();
            }
        }
    }

    // A context's first llama_decode is seconds slower than later ones (measured 1-3 s); one untimed decode
    // here keeps that out of every job's figures. It uses sequence 0 directly, then clears the cache.
    async Task<BatchedExecutor> WarmExecutorAsync()
    {
        var warm = new BatchedExecutor(weights, parameters);
        try
        {
            var batch = new LLamaBatch();
            batch.Add((LLamaToken)0, 0, (LLamaSeqId)0, true);
            var result = await warm.Context.DecodeAsync(batch, CancellationToken.None);
            if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode failed while warming up: {result}");
            warm.Context.NativeHandle.MemoryClear(true);
            sequencesUsed = 0;
            return warm;
        }
        catch
        {
            warm.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        executor?.Dispose();
        weights.Dispose();
    }

    static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++) if (row[i] > row[best]) best = i;
        return best;
    }

    static void Append(List<int>[] tokens, int[] picked)
    {
        for (int i = 0; i < picked.Length; i++) tokens[i].Add(picked[i]);
    }

    void Validate(JobRequest job)
    {
        if (job.Workload is not ("decode" or "prefill")) throw new ArgumentException($"unknown workload '{job.Workload}' (decode or prefill)");
        if (job.Prompts is not { Length: > 0 }) throw new ArgumentException("a job needs at least one prompt");
        if (job.Workload == "prefill" && job.Prompts.Length != 1) throw new ArgumentException($"a prefill job has one prompt, not {job.Prompts.Length}");
        if (job.Prompts.Length > parameters.SeqMax) throw new ArgumentException($"{job.Prompts.Length} prompts but the context holds {parameters.SeqMax} sequences");
        if (job.NewTokens < 1) throw new ArgumentException($"newTokens must be at least 1, not {job.NewTokens}");
        foreach (var prompt in job.Prompts)
        {
            if (prompt is not { Length: > 0 }) throw new ArgumentException("every prompt needs at least one token");
            if (prompt.Length > parameters.BatchSize) throw new ArgumentException($"a {prompt.Length}-token prompt exceeds the batch size {parameters.BatchSize}");
            if (prompt.Length + job.NewTokens > SequenceCapacity)
                throw new ArgumentException($"{prompt.Length} prompt + {job.NewTokens} new tokens exceed the {SequenceCapacity} KV slots of a sequence (contextSize / maxSequences)");
            foreach (int id in prompt)
                if ((uint)id >= (uint)vocabSize) throw new ArgumentException($"token id {id} is outside the vocabulary [0, {vocabSize})");
        }
    }
}
