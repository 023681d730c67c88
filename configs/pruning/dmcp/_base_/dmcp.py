# DMCP as the design guide configures it: the sandwich of four subnets per
# batch (max first: it teaches the others), Markov architecture parameters
# trained with their own Adam optimizer (lr 0.5, no weight decay) from
# `arch_start_training`, the width grid 10%..100% in steps of 10%.
# Each config sets the target, the FLOPs input shape and the start.
algorithm = dict(
    type='gml.DMCP',
    algorithm_cfg=dict(arch_start_training=0, arch_train_freq=1,
                       arch_sample_num=10, target_flops='50%',
                       flops_loss=dict(type='log_l1', loss_weight=0.1),
                       sample_tolerance=0.03),
    mutator=dict(type='gml.DMCPMutator', num_sample=4, sample_width=None,
                 arch_sample_type=['max', 'min', 'scheduled_random',
                                   'arch_random'],
                 arch_learning_rate=0.5, arch_weight_decay=0,
                 input_shape=(1, 3, 224, 224),
                 width=dict(max=1, min=0.1, offset=0.1)))
# validation measures the full model after BN recalibration
custom_hooks = [dict(type='gml.DynamicDistEvalHook', interval=1,
                     bn_stats_calib_kwargs=dict(num_iters=8))]
