"""The docstring entries the AutoInt estimators share, written once.

:func:`fill_shared_docs` puts them into a subclass's docstring where it holds the
placeholders ``{shared_parameters}``, ``{shared_training}`` and ``{shared_attributes}``.
"""

__all__ = ["SHARED_ATTRIBUTES_DOC", "SHARED_PARAMETERS_DOC", "SHARED_TRAINING_DOC",
           "fill_shared_docs"]

SHARED_PARAMETERS_DOC = """\
    categorical_features : "from_dtype", None, array-like of str or int, or bool mask, \
            default="from_dtype"
        Which columns are categorical; see :func:`~skautoint.make_field_transformer`.
    continuous : {"embed", "bucketize", "piecewise_linear"}, default="bucketize"
        How numeric columns become fields: quantile buckets, a robustly scaled value times a
        learned vector (the paper's way), or a blend of the learned vectors of the two
        quantile knots around the value (continuous and piecewise linear in the number, so
        neighbouring values share what they learn; 16 bytes a row instead of 8).
    continuous_overrides : dict, default=None
        Per-column choice replacing ``continuous``, keyed by column name or index.
    min_frequency : int or float, default=2
        Categorical levels seen fewer times share one "rare" code (so a level seen once, which
        no embedding can learn from, is rare). Raise it, or set ``max_categories``, to bound
        the embedding table on very large data.
    max_categories : int, default=None
        Keep at most this many levels per categorical column (the most frequent); the others
        share the rare code. Bounds the embedding table for identifier-like columns.
    n_bins : int or "auto", default="auto"
        Largest number of buckets of a bucketized column (intervals between the knots of a
        piecewise-linear one); ``"auto"`` takes one per 250 rows, between 8 and 128.
    multi_valued_features : dict, default=None
        Columns of delimited strings to encode as multi-valued fields, name -> separator
        (e.g. ``{"genres": "|"}``), or name -> None for a column of lists. Object columns
        whose cells are lists, tuples, 1-D arrays or ``{level: weight}`` mappings are
        multi-valued without it: one field whose vector pools its levels' embeddings.
    multi_valued_pooling : {"mean", "sum", "sqrtn"}, default="mean"
        How a multi-valued cell's level vectors become the field's vector: their (weighted)
        mean, sum, or sum over the square root of their number.
    max_levels_per_cell : int or "auto", default="auto"
        Slots of a multi-valued column: ``"auto"`` takes its longest cell in fit up to 16
        levels, beyond that the 99th percentile of its cell lengths (at least 16, at most
        64); longer cells keep their levels most frequent in fit.
    target_statistics : None, "auto" or list of str, default=None
        Categorical columns that also get a field of their levels' target mean (the share
        of each class for a multiclass target), so that levels seen in a few rows borrow
        strength from their target rate, as gradient boosting on target-encoded columns
        does. The statistics of the training rows are cross-fitted on 5 folds (no row sees
        its own target); prediction uses those of all training rows, missing values are a
        level of their own, and unseen levels take the global mean. For :meth:`fit` only:
        ``partial_fit``, a warm start and out-of-core training would encode training rows
        with statistics of their own labels, and refuse it. ``"auto"`` takes the columns of
        at least 100 levels whose levels average fewer than 20 rows (identifiers with a long
        tail). Off by default: ``"auto"`` gained 0.018 ROC AUC on Titanic and lost about a
        standard deviation on Criteo and Avazu (the benchmarks page, "Target statistics").
    field_transformer : FieldTransformer, default=None
        The field encoding to use instead of one built from the parameters above (which it
        then overrides, with a warning when they are set). Unfitted, a clone of it is fitted on
        the training rows. Fitted (on a sample of data too large for memory, for
        :meth:`partial_fit`), a copy of it is used as it is; wrap it in
        :class:`sklearn.frozen.FrozenEstimator` so that ``clone`` (and with it
        ``GridSearchCV``) keeps it fitted.
    embedding_dim : int, default=16
        Width of every field embedding.
    n_layers : int, default=2
        Number of interacting (self-attention) layers. The paper stacks 3; 2 scored the same
        or better on every data set of the quality benchmark, in about two thirds of the fit
        time (docs/benchmarks.rst).
    n_heads : int, default=2
        Attention heads per layer.
    attention_dim : int, default=32
        Width of each attention head.
    output_projection : {"none", "per_field", "flattened"}, default="none"
        What maps the concatenated heads of a layer back to the embedding width: nothing (the
        paper: the layer is ``n_heads * attention_dim`` wide), a matrix ``W_O`` per field (the
        transformer's output projection), or one dense layer over the flattened fields of the
        row (``n_fields * width -> n_fields * embedding_dim``).
    residual : {"projected", "identity", "none"}, default="projected"
        What every layer adds to its attention output: the projected input ``W_res e_m``
        (the paper; with ``output_projection="flattened"`` a dense layer over the flattened
        input), the input itself (needs equal widths), or nothing.
    layer_norm : {"none", "after_residual", "after_activation"}, default="none"
        LayerNorm over each field's vector: after the residual sum (before the activation,
        as in transformers and FuxiCTR), after the activation (the authors' TensorFlow
        code), or none (the paper).
    activation : {"relu", "none"}, default="relu"
        Activation after the residual sum (the paper's ReLU, or none as in a transformer
        block).
    projection_bias : bool, default=False
        Biases on the projections ``W_Q``, ``W_K``, ``W_V``, ``W_O`` and ``W_res`` (the paper
        has none).
    attention_scaling : bool, default=False
        Divide attention logits by ``sqrt(attention_dim)`` (scaled dot product).
    field_pair_bias : {"first_layer", "all_layers", "none"}, \
            default="first_layer" (classifier) or "none" (regressor)
        Which interacting layers add a learned logit per head and pair of fields to their
        attention scores (zero at the start, so the attention starts uniform). Without it
        (``"none"``, the paper) the first layer's attention stays uniform: its scores are
        products of two small embeddings, and so are their gradients. With it in the first
        layer the classifier's attention learns which fields each field reads (relative
        entropy 0.80 on Adult, 0.71 on MovieLens) at the quality of the paper's form or
        better; in every layer it costs quality on MovieLens. The regressor keeps the
        paper's layer: on MovieLens ratings as a number the bias cost 0.004 RMSE (2.5 seed
        standard deviations) and gained nothing beyond noise on the other regression
        targets. The bias is stored divided by 10, so ``weight_decay`` reaches it at a
        hundredth of its strength on the logits. See
        :ref:`the user guide <attention-learns>`.
    field_bias : bool, default=False
        Add a learned vector per field (a positional embedding) to every field embedding
        before the first layer.
    linear_term : bool, default=False
        Add a first-order (logistic-regression) term: one learned weight per level (and
        output), summed over the fields.
    mlp_hidden_units : tuple of int, default=()
        Non-empty adds an MLP branch on the embeddings (AutoInt+).
    dropout : float, default=0.0
        Dropout on attention weights and in the MLP branch (a warning says when the network
        has neither).
    learning_rate : float or "auto", default="auto"
        Adam's step size. ``"auto"`` is 2e-3, times ``sqrt(batch_size / 1024)`` for batches
        above 1024 rows.
    batch_size : int or "auto", default="auto"
        Rows per training step. ``"auto"`` aims at about 50 steps per epoch: the power of 2
        nearest to ``n_samples / 50``, between 64 and 1024.
    max_epochs : int, default=100
        Largest number of passes over the training data.
    weight_decay : float, default=0.0
        Adam's L2 penalty on the attention, output and MLP weights.
    embedding_weight_decay : float, default=1e-3
        Adam's L2 penalty on the embedding tables (the field embeddings, and the per-level
        weights of ``linear_term``). It reaches every row at every step, also the rows of
        levels absent from the batch, which Adam then pulls towards zero: the rarer a level,
        the more its embedding shrinks (rare levels are where a CTR model overfits). ``0``
        turns it off. With ``embedding_update="touched"`` it reaches only the rows of the
        levels in the batch.
    embedding_update : {"auto", "dense", "touched"}, default="auto"
        How Adam updates the embedding tables. ``"dense"``: every row at every step, at a
        cost proportional to the size of the tables (about 3 s per step for 10 million
        levels on 2 CPU cores). ``"touched"``: only the rows of the levels in the batch, at a
        cost independent of the vocabulary; the other rows keep their values and moments.
        ``"auto"`` takes ``"touched"`` when the tables hold 2**22 entries or more (262,144
        levels of width 16), ``"dense"`` otherwise. The choice is in ``embedding_update_``.
    early_stopping : "auto" or bool, default="auto"
        Hold out ``validation_fraction`` of the rows (or use ``X_val``) and stop when the
        validation loss has not improved by ``tol`` for ``n_iter_no_change`` epochs; the
        best epoch's weights are restored. ``"auto"`` enables it from 200 rows on, or
        whenever ``X_val`` is given; ``False`` together with ``X_val`` is an error, as in
        scikit-learn's HistGradientBoosting.
    validation_fraction : float or int, default=0.1
        Share (or number) of rows held out for early stopping; both parts must keep at
        least one row.
    n_iter_no_change : int, default=3
        Epochs without improvement before training stops.
    tol : float, default=1e-4
        Smallest decrease of the validation loss that counts as an improvement.
"""

SHARED_TRAINING_DOC = """\
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batch order, dropout and the validation split. Every
        draw comes from generators of the fit's own: torch's global random state is neither
        read nor changed, and fits running at once in several threads give the same models
        as alone.
    verbose : int, default=0
        0 is silent; 1 prints a table with one line per epoch (training loss, validation
        loss and score, seconds, ``*`` on the best epoch so far); 2 adds a tqdm progress
        bar over the batches of each epoch.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where the network trains; ``"auto"`` takes CUDA when torch sees it.
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Arithmetic of the training steps. ``"bfloat16"`` runs their forward pass under
        ``torch.autocast``: matrix products in bfloat16, while the weights, Adam's moments,
        the loss and the validation scores stay in float32. ``"auto"`` takes bfloat16 on
        CPUs that multiply it in AMX tiles (Intel Sapphire Rapids and later) when a step has
        enough work (``batch_size * n_fields >= 4096`` and ``n_heads * attention_dim >=
        64``), where a training step takes 0.6-0.8 of the float32 time at unchanged quality
        (see the benchmarks page), and float32 elsewhere. Predictions are
        always computed in float32, so a model predicts the same wherever it is loaded. The
        choice is in ``precision_``.
    warm_start : bool, default=False
        Continue training the fitted network for another ``max_epochs`` instead of starting
        over. The network parameters (``dropout`` included), the field parameters and
        ``field_transformer`` cannot change meanwhile (a ``ValueError`` names those that
        did); the step settings (``learning_rate``, ``batch_size``, ``weight_decay``, ...)
        take their new values.
    distributed : bool, default=False
        Data-parallel :meth:`fit` across the processes of a ``torch.distributed`` job (one
        per GPU or CPU socket, on one or several machines), started by ``torchrun``. Every
        process runs the same script and calls ``fit`` on its own rows; they train one
        network, averaging gradients at every step, and every process ends with the same
        fitted estimator. Process 0's rows fit the field encoding; ``batch_size`` is each
        process's (``"auto"`` divides the one-process choice among the processes, so that
        the effective batch stays the same). See the "Scaling up" page of the docs.
"""

SHARED_ATTRIBUTES_DOC = """\
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit``, when they are all strings.
    field_transformer_ : FieldTransformer
        The fitted field transformer.
    field_spec_ : FieldSpec
        Field names, kinds and table sizes.
    module_ : AutoIntNet
        The trained torch network.
    n_iter_ : int
        Epochs run (over all warm starts).
    best_iteration_ : int
        Epoch whose weights the network holds.
    batch_size_ : int
        The batch size used (``batch_size``, or the ``"auto"`` choice).
    embedding_update_ : {"dense", "touched"}
        The embedding update used (``embedding_update``, or the ``"auto"`` choice).
    learning_rate_ : float
        The learning rate used (``learning_rate``, or the ``"auto"`` choice).
    precision_ : {"float32", "bfloat16"}
        The arithmetic of the training steps (``precision``, or the ``"auto"`` choice).
"""


def fill_shared_docs(cls):
    """Put the shared Parameters and Attributes entries into a subclass's docstring."""
    cls.__doc__ = (cls.__doc__
                   .replace("    {shared_parameters}\n", SHARED_PARAMETERS_DOC)
                   .replace("    {shared_training}\n", SHARED_TRAINING_DOC)
                   .replace("    {shared_attributes}\n", SHARED_ATTRIBUTES_DOC))
    return cls
