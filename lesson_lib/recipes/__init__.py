"""Recipes: how every shipped asset is rebuilt, one module per asset.

==========================  ===============================================
``shakespeare_char``        chapter 07's character-level GPT
``small_lm_runs``           chapter 07's small GPT, LSTM and norm runs (results only)
``toy_reverse``             chapter 05's encoder-decoder on reversal
``finetune_results``        chapter 08's fine-tuning runs (results only)
``finetune_curves``         chapter 08's two live fine-tuning runs (results only)
``zeroshot_tasks``          chapter 09's zero-shot model
``icl_mapping``             chapter 10's in-context learner
``noisy_data_runs``         chapter 10's clean- vs noisy-text runs (results only)
``scaling_sweep``           chapter 11's scaling runs (results only)
``shapes_captioner``        chapter 11's image captioner
``safety_base``             chapter 11's assistant before safety tuning
==========================  ===============================================

``RECIPES`` maps each asset's name to its :class:`~.registry.Recipe`;
``python -m lesson_lib.pretrained build NAME`` (or ``--smoke``) runs one
and ``verify NAME`` rebuilds it and compares the numbers. Recipes import
the library; nothing in the library imports them.
"""
from . import (
               finetune_curves,
               finetune_results,
               icl_mapping,
               noisy_data_runs,
               safety_base,
               scaling_sweep,
               shakespeare_char,
               shapes_captioner,
               small_lm_runs,
               toy_reverse,
               zeroshot_tasks,
)
from .registry import RECIPES, Recipe, RecipeRun, recipe

__all__ = ["RECIPES", "Recipe", "RecipeRun", "recipe", "finetune_results", "icl_mapping",
           "safety_base", "scaling_sweep", "shakespeare_char", "shapes_captioner",
           "toy_reverse", "zeroshot_tasks", "small_lm_runs", "finetune_curves",
           "noisy_data_runs"]
