"""lesson_lib: every Transformer component of the course, small enough to read.

One concept per module, in the order the chapters teach them:

==================  =====================================================
``attention``       scaled dot-product and multi-head attention, masks
``positional``      sinusoidal and learned positional encodings
``layers``          feed-forward network, encoder and decoder layers
``transformer``     the encoder-decoder Transformer of Vaswani et al. 2017
``gpt``             the decoder-only GPT (GPT-1 post-norm, GPT-2 pre-norm)
``tokenizers``      character and byte-level BPE tokenizers
``data``            the shipped corpus, batches and toy tasks
``train``           a model-agnostic training loop with callbacks
``pretrained``      shipped checkpoints (.safetensors + JSON)
``finetune``        GPT-1's input transformations and fine-tuning
``icl``             the in-context-learning task of chapter 10
``zeroshot``        chapter 09's corpus with tasks hidden inside text
``scaling``         power-law fits for predictable scaling
``multimodal``      image patches as tokens: a toy captioner
``safety``          a labelled sketch of steering by fine-tuning
``recipes``         how every shipped checkpoint is rebuilt
``viz``             matplotlib/plotly views and live widgets
``exercises``       checkers for the chapter exercises
==================  =====================================================

Shape legend, used in every comment of the package::

    B  batch size             T  sequence length (Tq queries, Tk keys)
    C  model width (d_model)  H  number of heads
    D  head width (C // H)    L  number of layers
    V  vocabulary size

Tensors are batch-first: ``(B, T, C)``. A boolean ``mask`` means
**True = may attend**, the convention of
``torch.nn.functional.scaled_dot_product_attention`` (note that
``nn.MultiheadAttention`` uses the opposite one).

Model code never picks a device or dtype; it follows its input.
"""

__version__ = "0.1.0"
