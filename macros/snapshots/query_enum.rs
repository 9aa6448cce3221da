const _: () = {
    #[automatically_derived]
    impl ::eventsmith::__private::QueryEnvelope for OrderQuery {
        const TYPES: &'static [&'static str] = &["GetOrder", "ListAllOrders"];
        fn decode(
            query_type: &str,
            data: &[u8],
        ) -> ::core::result::Result<Self, ::eventsmith::__private::DecodeError> {
            match query_type {
                "GetOrder" => {
                    ::eventsmith::__private::decode_message::<GetOrder>("GetOrder", data)
                        .map(Self::GetOrder)
                }
                "ListAllOrders" => {
                    ::eventsmith::__private::decode_message::<
                        ListOrders,
                    >("ListAllOrders", data)
                        .map(Self::ListOrders)
                }
                __other => {
                    ::core::result::Result::Err(
                        ::eventsmith::__private::unknown_type(__other, Self::TYPES),
                    )
                }
            }
        }
        async fn answer(
            self,
            app: &::eventsmith::__private::App,
        ) -> ::core::result::Result<
            ::eventsmith::__private::String,
            ::eventsmith::__private::Error,
        > {
            match self {
                Self::GetOrder(__query) => {
                    ::eventsmith::__private::answer_json::<GetOrder>(app, __query).await
                }
                Self::ListOrders(__query) => {
                    ::eventsmith::__private::answer_json::<ListOrders>(app, __query)
                        .await
                }
            }
        }
    }
    #[automatically_derived]
    impl ::core::convert::From<GetOrder> for OrderQuery {
        #[inline]
        fn from(query: GetOrder) -> Self {
            Self::GetOrder(query)
        }
    }
    #[automatically_derived]
    impl ::core::convert::From<ListOrders> for OrderQuery {
        #[inline]
        fn from(query: ListOrders) -> Self {
            Self::ListOrders(query)
        }
    }
};
